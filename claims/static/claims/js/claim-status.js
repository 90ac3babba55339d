/* The status page keeps itself current: while the claim is being processed it re-reads
 * GET /api/v1/claims/{id}/ every few seconds and updates the status, the explanation and the
 * timeline in place (the status line is an aria-live region, so the change is announced).
 * The result (decision, damage over the photos, estimate, contest) is drawn by claim-result.js
 * from the claim the page was rendered with, and again whenever the status changes. */
(function () {
  "use strict";
  var app = document.getElementById("status-app");
  if (!app) return;
  var url = app.dataset.api;
  var interval = parseInt(app.dataset.pollMs, 10) || 3000;
  var MAX_INTERVAL = 30000;  // back off to this while the server is unreachable
  var polling = JSON.parse(document.getElementById("polling-statuses").textContent);
  var timelines = JSON.parse(document.getElementById("timelines").textContent);
  var explanations = JSON.parse(document.getElementById("status-explanations").textContent);
  var claimJson = document.getElementById("claim-json");
  var badge = document.getElementById("status-display");
  var explain = document.getElementById("status-explain");
  var indicator = document.getElementById("status-updated");
  var timeline = document.getElementById("timeline");
  var slot = document.getElementById("claim-decision");
  var plainPhotos = document.getElementById("photos-plain");
  var status = app.dataset.status;
  // Once an automatic decision was seen, the timeline keeps it as a done step (contested).
  var afterAuto = !!timelines.after_auto || status === "auto_decided";
  var delay = interval;
  var timer = null;

  var STATE_TEXT = { done: gettext("(done)"), current: gettext("(current)"), todo: gettext("(to come)") };

  function renderTimeline(current) {
    var steps = (afterAuto ? timelines.auto : timelines.plain)[current];
    if (!steps) return;
    timeline.textContent = "";
    steps.forEach(function (step) {
      var li = document.createElement("li");
      li.className = "timeline__step timeline__step--" + step.state;
      li.dataset.step = step.key;
      if (step.state === "current") li.setAttribute("aria-current", "step");
      var dot = document.createElement("span");
      dot.className = "timeline__dot";
      dot.setAttribute("aria-hidden", "true");
      var label = document.createElement("span");
      label.className = "timeline__label";
      label.textContent = step.label;
      var state = document.createElement("span");
      state.className = "visually-hidden timeline__state";
      state.textContent = STATE_TEXT[step.state] || "";
      li.appendChild(dot);
      li.appendChild(label);
      li.appendChild(state);
      timeline.appendChild(li);
    });
  }

  function renderResult(claim, options) {
    if (!slot || !window.CV || !CV.result) return;
    var shown = CV.result.render(slot, claim, {
      onContested: function (updated) { update(updated, { contested: true }); }
    }, options || {});
    // The result shows every photo with its damage; the plain grid would repeat them.
    if (plainPhotos) plainPhotos.hidden = shown.photos;
  }

  function update(claim, options) {
    if (claim.status === status && !(options && options.contested)) return;
    var previous = status;
    status = claim.status;
    if (previous === "auto_decided" || status === "auto_decided") afterAuto = true;
    app.dataset.status = status;
    badge.textContent = claim.status_display;
    badge.className = "badge badge--lg badge--" + status;
    explain.textContent = explanations[status] || "";
    renderTimeline(status);
    renderResult(claim, options);
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
        indicator.textContent = interpolate(gettext("%(message)s Reload the page to see the latest status."), { message: err.message }, true);
        return;
      }
      delay = Math.min(delay * 2, MAX_INTERVAL);
      schedule();
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && polling.indexOf(status) >= 0) { delay = interval; tick(); }
  });
  if (claimJson) renderResult(JSON.parse(claimJson.textContent), { initial: true });
  schedule();
})();
