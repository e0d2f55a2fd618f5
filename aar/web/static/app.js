// Live study page: poll the progress JSON; when its version changes, refresh the numbers, the plots
// and the experiments table in place (no reload). Everything else is plain server-rendered HTML.
(function () {
  "use strict";
  const box = document.getElementById("progress");
  if (!box) return;
  const period = Number(box.dataset.period) || 2000;
  let version = box.dataset.version;

  function apply(p) {
    if (p.status !== "running") {  // the study ended while the page was open: no "live" marker any more
      document.querySelectorAll(".live").forEach(function (el) {
        el.classList.remove("live");
        el.textContent = p.status + ", not running";
      });
    }
    document.querySelectorAll("[data-field]").forEach(function (el) {
      const value = p.fields[el.dataset.field];
      if (value !== undefined) el.textContent = value;
    });
    document.querySelectorAll("img[data-live]").forEach(function (img) {
      img.src = img.dataset.live + "?v=" + encodeURIComponent(p.version);
    });
    const table = document.getElementById("experiments");
    if (table) {
      fetch(table.dataset.url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) table.innerHTML = html; });
    }
  }

  function tick() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (p && p.version !== version) { version = p.version; box.dataset.version = version; apply(p); }
      })
      .catch(function () { /* server restarting: try again next tick */ })
      .finally(function () { setTimeout(tick, period); });
  }
  setTimeout(tick, period);
})();
