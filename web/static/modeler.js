// The in-browser modeler page: bpmn-js Modeler with the Camunda properties panel; "Deploy as new version" posts
// the XML to the server and opens the new version, or shows the deploy error and marks its element.
(function () {
  'use strict';

  let marked = null;
  let lastTyped = 0;  // the properties panel applies typing 300 ms after the last key
  const PANEL_DELAY = 350;

  function settled() {
    const wait = PANEL_DELAY - (Date.now() - lastTyped);
    return new Promise(function (resolve) { setTimeout(resolve, Math.max(0, wait)); });
  }

  function setStatus(text) {
    document.getElementById('modeler-status').textContent = text;
  }

  function showError(modeler, message, elementId) {
    const box = document.getElementById('modeler-error');
    box.textContent = message;
    box.hidden = false;
    const canvas = modeler.get('canvas');
    const registry = modeler.get('elementRegistry');
    if (marked && registry.get(marked)) canvas.removeMarker(marked, 'deploy-error');
    marked = null;
    if (elementId && registry.get(elementId)) {
      marked = elementId;
      canvas.addMarker(elementId, 'deploy-error');
      modeler.get('selection').select(registry.get(elementId));  // its properties open on the right
    }
  }

  function clearError(modeler) {
    document.getElementById('modeler-error').hidden = true;
    if (marked && modeler.get('elementRegistry').get(marked)) {
      modeler.get('canvas').removeMarker(marked, 'deploy-error');
    }
    marked = null;
  }

  async function deploy(modeler, root, button) {
    button.disabled = true;
    setStatus('Deploying…');
    try {
      await settled();  // what was typed just before the click is part of the diagram
      const { xml } = await modeler.saveXML({ format: true });
      const response = await fetch(root.dataset.deployUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'Content-Type': 'application/json',
          'Accept': 'application/json',
          'X-CSRFToken': document.querySelector('meta[name="csrf-token"]').content,
        },
        body: JSON.stringify({ xml: xml, fileName: root.dataset.fileName }),
      });
      let body = {};
      try { body = await response.json(); } catch (err) { body = { message: 'The server answered ' + response.status + '.' }; }
      if (response.redirected || (response.ok && !body.url)) {  // sent to the sign-in page: the session ended
        showError(modeler, 'Your session has ended: sign in again in another tab, then deploy again.', null);
        setStatus('Not deployed.');
        return;
      }
      if (response.ok) {
        clearError(modeler);
        setStatus(body.message || 'Deployed.');
        window.location.assign(body.url);
        return;
      }
      const details = body.details || {};
      showError(modeler, body.message || ('The server answered ' + response.status + '.'), details.elementId);
      setStatus('Not deployed.');
    } catch (err) {
      showError(modeler, 'Could not deploy: ' + err.message, null);
      setStatus('Not deployed.');
    } finally {
      button.disabled = false;
    }
  }

  async function download(modeler, root) {
    await settled();
    const { xml } = await modeler.saveXML({ format: true });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([xml], { type: 'application/xml' }));
    link.download = root.dataset.fileName || 'diagram.bpmn';
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  document.addEventListener('DOMContentLoaded', async function () {
    const root = document.getElementById('modeler');
    const xml = JSON.parse(document.getElementById(root.dataset.xml).textContent);
    const properties = document.getElementById('properties');
    const modeler = window.StageflowModeler(document.getElementById('canvas'), properties);
    properties.addEventListener('input', function () { lastTyped = Date.now(); });
    try {
      await modeler.importXML(xml);
    } catch (err) {
      setStatus('The diagram cannot be opened: ' + err.message);
      return;
    }
    modeler.get('canvas').zoom('fit-viewport', 'auto');
    const button = document.getElementById('deploy');
    button.disabled = false;
    button.addEventListener('click', function () { deploy(modeler, root, button); });
    document.getElementById('download').addEventListener('click', function () { download(modeler, root); });
    modeler.on('elements.changed', function (event) {  // the marked element was edited: the error is stale
      if (marked && event.elements.some(function (el) { return el.id === marked; })) {
        clearError(modeler);
        setStatus('Changed since the last deploy attempt.');
      }
    });
    root.dataset.state = 'ready';
    setStatus('Click an element to edit its properties; deploy when done.');
  });
})();
