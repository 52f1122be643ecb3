"""The shipped processes open in bpmn-js with a clean, readable diagram: each file is imported into the bundled
viewer (web/static/build/viewer.js) in Debian's headless chromium, and the test checks what a designer would see
there: no import warning, a shape for every flow node and an edge for every sequence flow, no overlapping shapes,
every sequence flow starting and ending on the outline of its shapes and running through none, and no label over a shape, another
label or another flow's line.
It also writes the renders of the three business processes to docs/screenshots/process-<name>.png."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.inbox.conftest import SCREENSHOTS

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "web" / "static" / "build"
FILES = ["processes/deal.bpmn", "processes/order.bpmn", "processes/card_issuance.bpmn",
         "examples/order_approval.bpmn", "examples/order_payment.bpmn"]
SCREENSHOT_OF = {"processes/deal.bpmn": "process-deal.png", "processes/order.bpmn": "process-order.png",
                 "processes/card_issuance.bpmn": "process-card_issuance.png"}
MAX_SIZE = (2800, 800)  # px at 100%: the widest process has some 20 shapes on its main row
TOLERANCE = 3  # px: a sequence flow may touch the border of a shape (labels get 1 px)

Box = tuple[float, float, float, float]  # x, y, width, height

# Imports the XML into one viewer and returns the geometry bpmn-js drew: shapes, connections and the rendered
# text boxes of the external labels (the text can be larger than the label's DI bounds).
MEASURE = r"""async (xml) => {
  const box = document.getElementById('canvas');
  if (window.viewer) { window.viewer.destroy(); }
  const viewer = window.viewer = window.StageflowViewer(box);
  let warnings;
  try { warnings = (await viewer.importXML(xml)).warnings.map(w => w.message); }
  catch (err) { return {error: String(err && err.message || err)}; }
  viewer.get('canvas').zoom('fit-viewport', 'auto');
  const registry = viewer.get('elementRegistry');
  const root = viewer.get('canvas').getRootElement();
  const ancestors = e => { const out = []; for (let p = e.parent; p && p !== root; p = p.parent) out.push(p.id); return out; };
  const shapes = [], connections = [], labels = [];
  registry.forEach(e => {
    if (e === root) return;
    if (e.waypoints) {
      connections.push({id: e.id, type: e.type, source: e.source && e.source.id, target: e.target && e.target.id,
                        waypoints: e.waypoints.map(p => [p.x, p.y])});
    } else if (e.type === 'label') {
      const text = registry.getGraphics(e).querySelector('.djs-visual text');
      const bb = text ? text.getBBox() : {x: 0, y: 0, width: 0, height: 0};
      if (bb.width > 0 && bb.height > 0) {
        const lines = Array.from(text.querySelectorAll('tspan'), t => t.textContent);
        labels.push({id: e.id, owner: e.labelTarget.id, text: lines.join(' ').replace(/\s+/g, ' ').trim(),
                     box: [e.x + bb.x, e.y + bb.y, bb.width, bb.height],
                     ancestors: ancestors(e.labelTarget)});
      }
    } else {
      shapes.push({id: e.id, type: e.type, box: [e.x, e.y, e.width, e.height], ancestors: ancestors(e),
                   host: e.host ? e.host.id : null});
    }
  });
  const missing = [];
  const visit = container => (container.flowElements || []).forEach(el => {
    const drawn = registry.get(el.id);  // a sequence flow is drawn as an edge (with waypoints), the rest as shapes
    if (!drawn || !drawn.waypoints !== (el.$type !== 'bpmn:SequenceFlow')) missing.push(el.id);
    if (el.flowElements) visit(el);
  });
  viewer.getDefinitions().rootElements.filter(r => r.$type === 'bpmn:Process').forEach(visit);
  return {warnings, missing, shapes, connections, labels};
}"""


def _overlap(a: Box, b: Box, tolerance: float = 0) -> bool:
    return (a[0] + tolerance < b[0] + b[2] and b[0] + tolerance < a[0] + a[2]
            and a[1] + tolerance < b[1] + b[3] and b[1] + tolerance < a[1] + a[3])


def _clip(p: tuple[float, float], q: tuple[float, float], planes: list[tuple[float, float, float]]) -> bool:
    """Whether a piece of the segment p-q lies strictly inside all half-planes a*x + b*y < c (Cyrus-Beck)."""
    lo, hi = 0.0, 1.0
    for a, b, c in planes:
        start, step = a * p[0] + b * p[1] - c, a * (q[0] - p[0]) + b * (q[1] - p[1])
        if step == 0:
            if start >= 0:
                return False
        elif step > 0:
            hi = min(hi, -start / step)
        else:
            lo = max(lo, -start / step)
    return hi - lo > 1e-9


def _crosses(p: tuple[float, float], q: tuple[float, float], shape: dict[str, Any],
             tolerance: float = TOLERANCE) -> bool:
    """Whether the segment p-q runs through the inside of the shape (a gateway's diamond, an event's circle, the
    box of anything else), shrunk by `tolerance` so that touching its border does not count."""
    x, y, w, h = shape["box"]
    cx, cy, rx, ry = x + w / 2, y + h / 2, w / 2 - tolerance, h / 2 - tolerance
    if rx <= 0 or ry <= 0:
        return False
    if shape["type"].endswith("Gateway"):  # |x - cx| / rx + |y - cy| / ry < 1
        return _clip(p, q, [(sx / rx, sy / ry, sx * cx / rx + sy * cy / ry + 1) for sx in (1, -1) for sy in (1, -1)])
    if shape["type"].endswith("Event"):
        dx, dy = q[0] - p[0], q[1] - p[1]
        t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((cx - p[0]) * dx + (cy - p[1]) * dy) / (dx * dx + dy * dy)))
        return (p[0] + t * dx - cx) ** 2 + (p[1] + t * dy - cy) ** 2 < rx * rx
    return _clip(p, q, [(-1, 0, -(cx - rx)), (1, 0, cx + rx), (0, -1, -(cy - ry)), (0, 1, cy + ry)])


def _on_border(point: tuple[float, float], shape: dict[str, Any], tolerance: float = TOLERANCE) -> bool:
    """Whether `point` lies on the outline of the shape (where an arrow visibly starts or ends)."""
    x, y, w, h = shape["box"]
    dx, dy, rx, ry = abs(point[0] - x - w / 2), abs(point[1] - y - h / 2), w / 2, h / 2
    if shape["type"].endswith("Gateway"):
        return abs(dx / rx + dy / ry - 1) * min(rx, ry) <= tolerance
    if shape["type"].endswith("Event"):
        return abs((dx * dx + dy * dy) ** 0.5 - rx) <= tolerance
    return dx <= rx + tolerance and dy <= ry + tolerance and (dx >= rx - tolerance or dy >= ry - tolerance)


def problems(drawing: dict[str, Any]) -> dict[str, list[str]]:
    """What a designer would object to in the drawing MEASURE returned, by kind (empty lists when clean)."""
    shapes = {s["id"]: s for s in drawing["shapes"]}
    found: dict[str, list[str]] = {"overlaps": [], "through": [], "labels": []}
    for a, b in itertools.combinations(drawing["shapes"], 2):
        if a["id"] in b["ancestors"] or b["id"] in a["ancestors"] or a["host"] == b["id"] or b["host"] == a["id"]:
            continue  # a shape inside its container, a boundary event on its host
        if _overlap(a["box"], b["box"]):
            found["overlaps"].append(f"{a['id']} overlaps {b['id']}")
    for c in drawing["connections"]:
        for end, point in ((c["source"], c["waypoints"][0]), (c["target"], c["waypoints"][-1])):
            if end in shapes and not _on_border(point, shapes[end]):
                found["through"].append(f"{c['id']} does not start or end on the outline of {end}")
        ends = {c["source"], c["target"]}
        for s in drawing["shapes"]:
            if any(s["id"] in shapes[e]["ancestors"] for e in ends if e in shapes):
                continue  # the subprocess around its ends; it must not cross its own ends either (dock at the border)
            if any(_crosses(p, q, s) for p, q in itertools.pairwise(c["waypoints"])):
                found["through"].append(f"{c['id']} runs through {s['id']}")
    for label in drawing["labels"]:
        for s in drawing["shapes"]:
            if s["id"] not in label["ancestors"] and _overlap(label["box"], s["box"], 1):
                found["labels"].append(f"label {label['text']!r} of {label['owner']} overlaps {s['id']}")
        for c in drawing["connections"]:
            if c["id"] != label["owner"] and any(_crosses(p, q, {"type": "label", "box": label["box"]}, 1)
                                                 for p, q in itertools.pairwise(c["waypoints"])):
                found["labels"].append(f"label {label['text']!r} of {label['owner']} is crossed by {c['id']}")
    for a, b in itertools.combinations(drawing["labels"], 2):
        if _overlap(a["box"], b["box"], 1):
            found["labels"].append(f"label {a['text']!r} of {a['owner']} overlaps label {b['text']!r} of {b['owner']}")
    return found


@pytest.fixture(scope="module")
def viewer_page(browser: Any) -> Iterator[Any]:
    if not (BUILD / "viewer.js").exists():
        message = f"the bundled bpmn-js viewer is missing at {BUILD} (make install builds it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    page = browser.new_page(viewport={"width": 1800, "height": 720})
    page.set_content('<html><body style="margin:0"><div id="canvas" style="width:1800px;height:720px">'
                     "</div></body></html>")
    for css in ("diagram-js.css", "bpmn-js.css", "bpmn-font/css/bpmn-embedded.css"):
        page.add_style_tag(path=str(BUILD / css))
    page.add_script_tag(path=str(BUILD / "viewer.js"))
    yield page
    page.close()


def draw(page: Any, xml: str) -> dict[str, Any]:
    """Import `xml` into the viewer on `page` and return what it drew (see MEASURE)."""
    drawing = page.evaluate(MEASURE, xml)
    assert "error" not in drawing, drawing.get("error")
    return drawing


def extent(drawing: dict[str, Any]) -> Box:
    """The box around everything drawn: shapes, labels and lines."""
    xs = [v for s in drawing["shapes"] + drawing["labels"] for v in (s["box"][0], s["box"][0] + s["box"][2])]
    ys = [v for s in drawing["shapes"] + drawing["labels"] for v in (s["box"][1], s["box"][1] + s["box"][3])]
    for c in drawing["connections"]:
        xs += [p[0] for p in c["waypoints"]]
        ys += [p[1] for p in c["waypoints"]]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def screenshot(page: Any, drawing: dict[str, Any], path: Path, margin: int = 20) -> None:
    """Save the whole diagram at 100% zoom, as a designer sees it in the modeler."""
    x, y, w, h = extent(drawing)
    box = {"x": x - margin, "y": y - margin,  # and room for the bpmn.io logo at the bottom right
           "width": w + 2 * margin, "height": h + 2 * margin + 40}
    width, height = int(box["width"]) + 1, int(box["height"]) + 1
    page.set_viewport_size({"width": width, "height": height})
    page.evaluate("""([box, width, height]) => {
        const div = document.getElementById('canvas');
        div.style.width = width + 'px'; div.style.height = height + 'px';
        const canvas = window.viewer.get('canvas'); canvas.resized(); canvas.viewbox(box);
    }""", [box, width, height])
    os.makedirs(path.parent, exist_ok=True)
    page.screenshot(path=str(path))


@pytest.mark.parametrize("name", FILES)
def test_diagram_is_clean_in_bpmn_js(viewer_page: Any, name: str) -> None:
    drawing = draw(viewer_page, (ROOT / name).read_text(encoding="utf-8"))
    assert drawing["warnings"] == []
    assert drawing["missing"] == [], "flow elements without a shape or edge"
    assert problems(drawing) == {"overlaps": [], "through": [], "labels": []}
    _, _, width, height = extent(drawing)
    assert width <= MAX_SIZE[0] and height <= MAX_SIZE[1], f"{width:.0f} x {height:.0f} px is not compact"
    if name in SCREENSHOT_OF:
        screenshot(viewer_page, drawing, SCREENSHOTS / SCREENSHOT_OF[name])
