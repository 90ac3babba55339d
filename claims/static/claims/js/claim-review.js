/* Review and submit: POST /api/v1/claims/{id}/submit/ (202), then show the status page. */
(function () {
  "use strict";
  var form = document.getElementById("submit-form");
  if (!form) return;
  var button = document.getElementById("submit-claim");
  var errorBox = document.getElementById("submit-error");
  var text = button.textContent;
  var busy = false;

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy || button.disabled) return;
    busy = true;
    errorBox.hidden = true;
    button.setAttribute("aria-disabled", "true");
    button.setAttribute("aria-busy", "true");
    button.textContent = gettext("Submitting…");
    CV.api(form.dataset.api, { method: "POST" }).then(function () {
      window.location.assign(form.dataset.next);
    }, function (err) {
      // Already submitted (a double tap, or another tab): the status page is where to be.
      if (err.code === "invalid_transition" && err.details && err.details.from && err.details.from !== "draft") {
        window.location.assign(form.dataset.next);
        return;
      }
      busy = false;
      button.setAttribute("aria-disabled", "false");
      button.setAttribute("aria-busy", "false");
      button.textContent = text;
      errorBox.textContent = "";
      var title = document.createElement("p");
      title.className = "error-summary__title";
      title.textContent = gettext("The claim was not submitted.");
      var msg = document.createElement("p");
      msg.textContent = err.message;
      errorBox.appendChild(title);
      errorBox.appendChild(msg);
      errorBox.hidden = false;
      errorBox.focus();
    });
  });
})();
