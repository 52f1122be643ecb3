// Stageflow inbox: small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // "/" jumps to the search box, as in many web apps.
  document.addEventListener("keydown", function (event) {
    var search = document.getElementById("q");
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName));
    if (search && event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });

  // A filter choice applies at once.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select && select.matches && select.matches("select[data-autosubmit]") && select.form) {
      select.form.submit();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {

    // The list notices changes: every 20 s (while the page is visible) it asks for the counts and a fingerprint
    // of its page, updates the counts and offers to show the new list.
    var inbox = document.querySelector(".inbox[data-state-url]");
    if (!inbox || !window.fetch) { return; }
    var banner = inbox.querySelector(".changed");
    function poll() {
      if (document.hidden) { return; }
      fetch(inbox.dataset.stateUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (!state) { return; }
          Object.keys(state.counts).forEach(function (key) {
            var badge = inbox.querySelector('[data-count="' + key + '"]');
            if (badge) { badge.textContent = state.counts[key]; }
          });
          if (state.fingerprint !== inbox.dataset.fingerprint && banner) { banner.hidden = false; }
        })
        .catch(function () { /* offline for a moment: try again next time */ });
    }
    var every = parseInt(inbox.dataset.pollMs || "20000", 10);
    setInterval(poll, every);
    document.addEventListener("visibilitychange", poll);
  });
})();
