// Stageflow instance page: draws the process diagram (bpmn-js, bundled in build/viewer.js) and marks where the
// instance is, where it has been and where it failed. The rest of the page works without this file.
(function () {
  "use strict";

  // Forms that change something for good ask first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  function note(text) {
    var p = document.getElementById("diagram-note");
    if (p) { p.textContent = text; p.hidden = !text; }
  }

  // A sequence flow counts as taken when its source completed and its target was reached.
  function markFlows(registry, canvas, markers) {
    var done = {}, reached = {};
    markers.completed.forEach(function (id) { done[id] = reached[id] = true; });
    markers.active.concat(markers.incidents).forEach(function (id) { reached[id] = true; });
    registry.filter(function (e) { return e.type === "bpmn:SequenceFlow"; }).forEach(function (flow) {
      if (flow.source && flow.target && done[flow.source.id] && reached[flow.target.id]) {
        canvas.addMarker(flow.id, "sf-taken");
      }
    });
  }

  function mark(viewer, markers) {
    var registry = viewer.get("elementRegistry");
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    function add(ids, cls) {
      ids.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, cls); } });
    }
    add(markers.completed, "sf-completed");
    add(markers.active, "sf-active");
    add(markers.incidents, "sf-incident");
    markFlows(registry, canvas, markers);
    markers.incidents.forEach(function (id) {
      if (!registry.get(id)) { return; }
      var badge = document.createElement("span");
      badge.className = "sf-incident-badge";
      badge.title = "Incident";
      badge.textContent = "!";
      overlays.add(id, "sf-incident", {position: {top: -10, right: 10}, html: badge});
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("diagram");
    var data = document.getElementById("diagram-markers");
    if (!box || !data) { return; }
    if (!window.StageflowViewer || !window.fetch || !window.Promise) {
      note("The diagram cannot be drawn in this browser.");
      return;
    }
    var markers = JSON.parse(data.textContent);
    note("Drawing the diagram…");
    fetch(box.dataset.xmlUrl, {credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error("the server answered " + response.status); }
        return response.text();
      })
      .then(function (xml) {
        var viewer = window.StageflowViewer(box);
        return viewer.importXML(xml).then(function () { return viewer; });
      })
      .then(function (viewer) {
        mark(viewer, markers);
        viewer.get("canvas").zoom("fit-viewport", "auto");
        box.dataset.state = "ready";
        note("");
      })
      .catch(function (err) {
        box.dataset.state = "failed";
        box.hidden = true;
        var text = String(err && err.message || err);
        note(/no diagram|BPMNDiagram|no process or collaboration/i.test(text)
          ? "This process was deployed without a diagram layout: there is nothing to draw."
          : "The diagram could not be drawn: " + text);
      });
  });
})();
