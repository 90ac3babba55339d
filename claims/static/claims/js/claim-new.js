/* Start a claim: validate in the page, then POST JSON to the API with an Idempotency-Key so a
 * double tap or a retried request never creates two claims. */
(function () {
  "use strict";
  var form = document.getElementById("claim-form");
  if (!form) return;
  var summary = document.getElementById("form-errors");
  var button = document.getElementById("create-claim");
  var buttonText = button.textContent;
  var FIELDS = ["policy_number", "vehicle_make", "vehicle_model", "vehicle_year", "incident_date", "description"];
  var LABELS = {
    policy_number: gettext("Policy number"), vehicle_make: pgettext("vehicle make", "Make"),
    vehicle_model: pgettext("vehicle model", "Model"), vehicle_year: pgettext("vehicle year", "Year"),
    incident_date: gettext("Date of the incident"), description: gettext("What happened")
  };
  // "Enter the …" per field: whole sentences, so each language words them its own way.
  var MISSING = {
    policy_number: gettext("Enter the policy number."),
    vehicle_make: gettext("Enter the make."),
    vehicle_model: gettext("Enter the model."),
    vehicle_year: gettext("Enter the year."),
    incident_date: gettext("Enter the date of the incident."),
    description: gettext("Enter what happened.")
  };
  // Domain errors that belong to one field.
  var CODE_FIELD = { incident_in_future: "incident_date" };
  // One key per claim being started: kept across retries, replaced only once a claim exists.
  var key = CV.uuid();
  var busy = false;

  function clearErrors() {
    summary.hidden = true;
    summary.textContent = "";
    FIELDS.forEach(function (name) {
      var input = form.elements[name];
      var p = document.getElementById(name + "_error");
      input.removeAttribute("aria-invalid");
      input.closest(".field").classList.remove("field--invalid");
      p.hidden = true;
      p.textContent = "";
    });
  }

  function setFieldError(name, message) {
    var input = form.elements[name];
    var p = document.getElementById(name + "_error");
    if (!input || !p) return false;
    p.textContent = message;
    p.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.closest(".field").classList.add("field--invalid");
    return true;
  }

  function localMessage(el) {
    var v = el.validity;
    if (v.valueMissing) {
      return MISSING[el.name];
    }
    if (el.name === "policy_number" && (v.patternMismatch || v.tooShort)) {
      return gettext("Use 4 to 40 letters, digits, spaces, - or /.");
    }
    if (el.name === "vehicle_year" && (v.rangeOverflow || v.rangeUnderflow || v.badInput || v.stepMismatch)) {
      return interpolate(gettext("Enter a year between %(min)s and %(max)s."), { min: el.min, max: el.max }, true);
    }
    if (el.name === "incident_date" && v.rangeOverflow) return gettext("The incident date cannot be in the future.");
    return el.validationMessage;
  }

  /* A summary at the top, focused, with a link to each field in error. */
  function showSummary(title, errors) {
    summary.textContent = "";
    var h = document.createElement("p");
    h.className = "error-summary__title";
    h.textContent = title;
    summary.appendChild(h);
    if (errors.length) {
      var ul = document.createElement("ul");
      errors.forEach(function (e) {
        var li = document.createElement("li");
        if (e.field) {
          var a = document.createElement("a");
          a.href = "#" + e.field;
          a.textContent = e.message;
          a.addEventListener("click", function (ev) { ev.preventDefault(); form.elements[e.field].focus(); });
          li.appendChild(a);
        } else {
          li.textContent = e.message;
        }
        ul.appendChild(li);
      });
      summary.appendChild(ul);
    }
    summary.hidden = false;
    summary.focus();
  }

  function setBusy(on) {
    busy = on;
    // aria-disabled, not disabled: a disabled button would drop keyboard focus to the page.
    button.setAttribute("aria-disabled", on ? "true" : "false");
    button.setAttribute("aria-busy", on ? "true" : "false");
    button.textContent = on ? gettext("Creating your claim…") : buttonText;
  }

  /* A field in error clears its message (and its line in the summary) as soon as what is
     typed is valid: nobody should read an error they have fixed. */
  function clearFieldError(name) {
    var input = form.elements[name];
    var p = document.getElementById(name + "_error");
    input.removeAttribute("aria-invalid");
    input.closest(".field").classList.remove("field--invalid");
    p.hidden = true;
    p.textContent = "";
    var link = summary.querySelector('a[href="#' + name + '"]');
    if (link) link.closest("li").remove();
    if (!summary.querySelector("li")) {
      summary.hidden = true;
      summary.textContent = "";
    }
  }

  FIELDS.forEach(function (name) {
    var input = form.elements[name];
    function recheck() {
      if (input.getAttribute("aria-invalid") !== "true") return;
      // Spaces alone are not an answer (the submit trims them away).
      if (input.required && !input.value.trim()) return;
      if (input.checkValidity()) clearFieldError(name);
    }
    input.addEventListener("input", recheck);
    input.addEventListener("change", recheck);
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;
    clearErrors();
    var errors = [];
    FIELDS.forEach(function (name) {
      var el = form.elements[name];
      if (el.type !== "textarea" && el.type !== "number" && el.value !== el.value.trim()) el.value = el.value.trim();
      if (!el.checkValidity()) {
        var msg = localMessage(el);
        setFieldError(name, msg);
        errors.push({ field: name, message: msg });
      }
    });
    if (errors.length) {
      showSummary(ngettext("Please correct this field:", "Please correct these fields:", errors.length), errors);
      return;
    }
    var body = {
      policy_number: form.elements.policy_number.value,
      vehicle_make: form.elements.vehicle_make.value,
      vehicle_model: form.elements.vehicle_model.value,
      vehicle_year: parseInt(form.elements.vehicle_year.value, 10),
      incident_date: form.elements.incident_date.value,
      description: form.elements.description.value
    };
    setBusy(true);
    CV.api(form.dataset.api, { method: "POST", body: body, idempotencyKey: key }).then(function (claim) {
      window.location.assign(form.dataset.next.replace(CV.ZERO_UUID, claim.id));
    }, function (err) {
      setBusy(false);
      var list = [];
      if (err.code === "idempotency_key_reused") key = CV.uuid();
      var fields = err.details && err.details.fields;
      if (fields && typeof fields === "object") {
        Object.keys(fields).forEach(function (name) {
          var msg = [].concat(fields[name]).join(" ");
          if (setFieldError(name, msg)) list.push({ field: name, message: interpolate(gettext("%(field)s: %(message)s"), { field: LABELS[name], message: msg }, true) });
          else list.push({ message: msg });
        });
      } else if (CODE_FIELD[err.code]) {
        setFieldError(CODE_FIELD[err.code], err.message);
        list.push({ field: CODE_FIELD[err.code], message: err.message });
      }
      showSummary(err.message, list);
    });
  });
})();
