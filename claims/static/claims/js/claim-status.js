/* The status page keeps itself current: while the claim is being processed it re-reads
 * GET /api/v1/claims/{id}/ every few seconds and updates the status, the explanation and the
 * timeline in place (the status line is an aria-live region, so the change is announced). */
(function () {
  "use strict";
  var app = document.getElementById("status-app");
  if (!app) return;
  var url = app.dataset.api;
  var interval = parseInt(app.dataset.pollMs, 10) || 3000;
  var MAX_INTERVAL = 30000;  // back off to this while the server is unreachable
  var polling = JSON.parse(document.getElementById("polling-statuses").textContent);
  var stepOf = JSON.parse(document.getElementById("timeline-steps").textContent);
  var explanations = JSON.parse(document.getElementById("status-explanations").textContent);
  var badge = document.getElementById("status-display");
  var explain = document.getElementById("status-explain");
  var indicator = document.getElementById("status-updated");
  var steps = Array.prototype.slice.call(document.querySelectorAll("#timeline .timeline__step"));
  var status = app.dataset.status;
  var delay = interval;
  var timer = null;

  function renderTimeline(current) {
    steps.forEach(function (li, index) {
      var state = index < current ? "done" : (index === current ? "current" : "todo");
      li.className = "timeline__step timeline__step--" + state;
      if (state === "current") li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
      li.querySelector(".timeline__state").textContent =
        state === "done" ? "(done)" : (state === "current" ? "(current)" : "(to come)");
    });
  }

  function update(claim) {
    if (claim.status === status) return;
    status = claim.status;
    app.dataset.status = status;
    badge.textContent = claim.status_display;
    badge.className = "badge badge--lg badge--" + status;
    explain.textContent = explanations[status] || "";
    if (stepOf[status] !== undefined) renderTimeline(stepOf[status]);
    // DECISION AND DAMAGE REGIONS: later issues fill #claim-decision from the claim here.
  }

  function schedule() {
    window.clearTimeout(timer);
    var active = polling.indexOf(status) >= 0;
    indicator.hidden = !active;
    if (active) timer = window.setTimeout(tick, delay);
  }

  function tick() {
    if (document.hidden) return;  // resumed by visibilitychange; a hidden tab costs nothing
    CV.api(url).then(function (claim) {
      delay = interval;
      update(claim);
      schedule();
    }, function (err) {
      if (err.status === 401 || err.status === 403 || err.status === 404) {
        indicator.hidden = false;
        indicator.textContent = err.message + " Reload the page to see the latest status.";
        return;
      }
      delay = Math.min(delay * 2, MAX_INTERVAL);
      schedule();
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && polling.indexOf(status) >= 0) { delay = interval; tick(); }
  });
  schedule();
})();
