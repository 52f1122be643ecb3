// The read-only diagram of the designer's pages: a definition's version, or an uploaded file that failed to deploy
// with the offending element marked. The XML is in a <script type="application/json"> block of the page.
(function () {
  'use strict';

  async function show(container) {
    const status = document.getElementById('diagram-status');
    const xml = JSON.parse(document.getElementById(container.dataset.xml).textContent);
    const viewer = window.StageflowViewer(container);
    try {
      await viewer.importXML(xml);
    } catch (err) {
      if (status) status.textContent = 'The diagram cannot be drawn: ' + err.message;
      container.dataset.state = 'failed';
      return;
    }
    const canvas = viewer.get('canvas');
    canvas.zoom('fit-viewport', 'auto');
    const marked = container.dataset.highlight;
    if (marked && viewer.get('elementRegistry').get(marked)) {
      canvas.addMarker(marked, 'deploy-error');
    } else if (marked && status) {
      status.textContent = 'The element ' + marked + ' is not drawn on the diagram.';
    }
    container.dataset.state = 'ready';
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('.diagram[data-xml]').forEach(show);
  });
})();
