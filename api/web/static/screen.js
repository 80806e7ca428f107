// Times in the rep's own time zone, and the API's error messages where the rep sees them.
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  function localTimes(root) {
    root.querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) {
        el.textContent = format.format(when);
        el.title = zone;
        el.dataset.local = "1";
      }
    });
  }
  function say(text) {
    var box = document.getElementById("alerts");
    if (box) { box.textContent = text; }
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:load", function (e) { localTimes(e.target); });
  document.addEventListener("htmx:sseMessage", function () { localTimes(document); });
  document.addEventListener("htmx:responseError", function (e) {
    var detail = "The request failed (" + e.detail.xhr.status + ").";
    try {
      var body = JSON.parse(e.detail.xhr.responseText).detail;
      detail = typeof body === "string" ? body : body.map(function (d) { return d.msg; }).join("; ");
    } catch (ignored) { /* not JSON: keep the status */ }
    say(detail);
  });
})();
