"""The funnel and stage report of a process as a page (`/reports/funnel?key=deal`), over `engine.reports.funnel`.

For admins and the heads of sales and loyalty; others get no link and a 403.
"""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from flask_login import current_user, login_required

from engine.errors import DefinitionError
from engine.identity import Principal
from engine.reports import funnel
from engine.xmlsafe import BPMN_MODEL_NS, parse_xml

from . import bp, engine, me

REPORT_GROUPS = frozenset({"admins", "sales-heads", "loyalty-heads"})
DEFAULT_KEY = "deal"


def may_report(person: Principal | None) -> bool:
    return person is not None and bool(REPORT_GROUPS & set(person.groups))


@bp.app_context_processor
def _report_globals() -> dict[str, Any]:
    person = current_user.principal if current_user and current_user.is_authenticated else None
    return {"may_report": may_report(person)}


def hours(value: float | None) -> str:
    """A stage time as a person reads it: `45 min`, `5.5 h`, `3.2 days`, or an em dash."""
    if value is None:
        return "—"
    if value < 1:
        return f"{round(value * 60)} min"
    if value < 48:
        return f"{value:.1f} h"
    return f"{value / 24:.1f} days"


def end_events(definition_id: str, key: str) -> list[tuple[str, str]]:
    """(id, name) of the end events of process `key` in the file of `definition_id`, to pick won and lost."""
    try:
        root = parse_xml(engine().definitions.xml(definition_id), "process.bpmn").getroot()
    except DefinitionError:
        return []
    ns = {"bpmn": BPMN_MODEL_NS}
    return [(el.get("id"), el.get("name") or el.get("id"))
            for el in root.xpath("bpmn:process[@id=$key]//bpmn:endEvent[@id]", namespaces=ns, key=key)]


def pick(asked: str, ends: list[tuple[str, str]], default: str) -> str:
    """The end event asked for ("-": none), else the default when the process has it."""
    if asked:
        return "" if asked == "-" else asked
    return default if not ends or default in dict(ends) else ""


@bp.get("/reports/funnel")
@login_required
def funnel_page():  # type: ignore[no-untyped-def]
    if not may_report(me()):
        abort(403, "The funnel report is for admins and the members of sales-heads and loyalty-heads.")
    processes = engine().definitions.list(latest_only=True, max_results=1000)
    keys = [d.key for d in processes]
    key = request.args.get("key", "").strip()[:255] or (DEFAULT_KEY if DEFAULT_KEY in keys or not keys else keys[0])
    latest = next((d for d in processes if d.key == key), None)
    ends = end_events(latest.id, key) if latest else []
    won = pick(request.args.get("won", "").strip()[:255], ends, "deal_won")
    lost = pick(request.args.get("lost", "").strip()[:255], ends, "deal_lost")
    report = funnel(engine(), key, won_end=won, lost_end=lost)
    title = (latest.name or latest.key) if latest else key
    return render_template("funnel.html", report=report, processes=processes, key=key, title=title, won=won,
                           lost=lost, ends=ends, known=latest is not None, hours=hours)
