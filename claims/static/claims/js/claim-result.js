/* The result of a claim on the customer's status page, drawn from the claim as the API returns
 * it (GET /api/v1/claims/{id}/): the outcome and who decided it (the system or an adjuster, with
 * the reasons a person is checking it), the overall severity, the damage over each photo
 * (damage-overlay.js), the repair estimate, and the "ask for a person to review" action that
 * contests an automatic decision (POST /api/v1/claims/{id}/contest/).
 *
 * CV.result.render(slot, claim, {onContested}) redraws everything; claim-status.js calls it
 * with the claim the page was rendered with and again whenever a poll brings a new status. */
(function () {
  "use strict";
  var RESULT_STATUSES = ["auto_decided", "in_review", "more_photos_requested", "decided"];
  var SEVERITY_TEXT = {
    minor: ["Minor", "cosmetic: polish, paint or a small repair"],
    moderate: ["Moderate", "a panel needs repair work"],
    severe: ["Severe", "parts need replacing"]
  };
  var OPERATION_TEXT = { repair: "Repair", replace: "Replace", refinish: "Paint", r_and_i: "Remove and refit" };
  var locale = (navigator.languages && navigator.languages[0]) || navigator.language || "en";

  // DOM helpers shared with damage-overlay.js (loaded first).
  function el(tag, attrs, children) { return CV.damage.el(tag, attrs, children); }
  function swatch(colour) { return CV.damage.swatch(colour); }

  function money(value, currency) {
    var n = Number(value) || 0;
    try {
      return new Intl.NumberFormat(locale, { style: "currency", currency: currency || "EUR" }).format(n);
    } catch (err) {  // an unknown currency code: still readable
      return (currency || "") + " " + n.toFixed(2);
    }
  }

  function hours(value) {
    return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(Number(value) || 0) + " h";
  }

  function when(iso) {
    var date = iso ? new Date(iso) : null;
    if (!date || isNaN(date.getTime())) return "";
    try {
      return new Intl.DateTimeFormat(locale, { dateStyle: "long", timeStyle: "short" }).format(date);
    } catch (err) {
      return date.toLocaleString();
    }
  }

  /* The server sends reasons in the customer's words already (one per kind, no scores, no
     fraud signal: assessment.selectors.decision_reasons_for_customer). */
  function reasonText(reason) {
    return reason.message || reason.code;
  }

  function uniqueReasons(reasons) {
    var seen = {};
    return reasons.filter(function (r) {
      var text = reasonText(r);
      if (seen[text]) return false;
      seen[text] = true;
      return true;
    });
  }

  /* What the customer is told first: a headline, a tone for the card, and who decided. */
  function summary(claim) {
    var d = claim.decision;
    var at = d ? when(d.decided_at) : "";
    var status = claim.status;
    if (status === "more_photos_requested" || (d && d.outcome === "more_photos" && status !== "decided")) {
      return { tone: "action", title: "More photos needed",
        who: "An adjuster needs more photos of the damage before deciding." };
    }
    if (status === "in_review") {
      return { tone: "review", title: "With an adjuster",
        who: "An adjuster, not the computer, decides this claim. You do not need to do anything for now." };
    }
    if (status === "auto_decided") {
      return { tone: d && d.outcome === "no_damage" ? "neutral" : "ok",
        title: d ? d.outcome_display : "Decided automatically",
        who: "Decided automatically by our assessment system" + (at ? " on " + at : "") +
          ". No person has reviewed it yet." };
    }
    if (status === "decided") {
      var denied = d && d.outcome === "denied";
      return { tone: denied ? "denied" : "ok", title: d ? d.outcome_display : "Decided",
        who: (d && d.automatic ? "Decided automatically" : "Decided by an adjuster") + (at ? " on " + at : "") + "." };
    }
    return null;
  }

  function severityBlock(assessment) {
    if (!assessment) return null;
    if (!assessment.region_count || !assessment.overall_severity) {
      return el("div", { className: "fact" }, [
        el("span", { className: "fact__label", text: "Damage" }),
        el("span", { className: "fact__value", text: "No damage found" })
      ]);
    }
    var sev = SEVERITY_TEXT[assessment.overall_severity] || [assessment.overall_severity, ""];
    var areas = assessment.region_count === 1 ? "1 damaged area" : assessment.region_count + " damaged areas";
    return el("div", { className: "fact" }, [
      el("span", { className: "fact__label", text: "Overall damage" }),
      el("span", { className: "fact__value" }, [
        el("span", { className: "sev sev--" + assessment.overall_severity, id: "overall-severity", text: sev[0] }),
        " ", el("span", { className: "fact__note", text: (sev[1] ? sev[1] + " · " : "") + areas })
      ])
    ]);
  }

  function totalBlock(claim) {
    var a = claim.assessment;
    if (!a || !a.region_count) return null;
    var provisional = claim.status === "in_review" || claim.status === "more_photos_requested";
    return el("div", { className: "fact" }, [
      el("span", { className: "fact__label", text: provisional ? "Estimate (to be confirmed)" : "Repair estimate" }),
      el("span", { className: "fact__value fact__value--money", text: money(a.estimate_total, a.currency) })
    ]);
  }

  function reasonsBlock(claim) {
    var d = claim.decision;
    var reasons = d && Array.isArray(d.reasons) ? d.reasons : [];
    if (!reasons.length) return null;
    var title = "Why a person is checking it";
    if (claim.status === "more_photos_requested" || d.outcome === "more_photos") title = "What the adjuster asks for";
    else if (claim.status === "decided") title = "Notes from the adjuster";
    else if (claim.status === "auto_decided") title = "Notes";
    return el("div", { className: "reasons" }, [
      el("h3", { className: "reasons__title", text: title }),
      el("ul", { className: "reasons__list" }, uniqueReasons(reasons).map(function (r) {
        return el("li", { "data-code": r.code, text: reasonText(r) });
      }))
    ]);
  }

  function contestBlock(slot, claim, handlers) {
    var url = slot.dataset.contestApi;
    var open = el("button", {
      type: "button", className: "button button--secondary button--block", id: "contest-open",
      "aria-expanded": "false", "aria-controls": "contest-form", text: "Ask for a person to review"
    });
    var reason = el("textarea", { id: "contest-reason", name: "reason", maxlength: "1000", rows: "3",
      "aria-describedby": "contest-hint" });
    var error = el("p", { className: "notice notice--error", id: "contest-error", role: "alert", hidden: true });
    var send = el("button", { type: "submit", className: "button button--primary", id: "contest-send",
      text: "Send to an adjuster" });
    var cancel = el("button", { type: "button", className: "button button--secondary", text: "Cancel" });
    var form = el("form", { className: "contest__form", id: "contest-form", hidden: true, novalidate: true }, [
      el("label", { className: "field__label", for: "contest-reason" }, [
        "What should the adjuster look at? ", el("span", { className: "optional", text: "(optional)" })
      ]),
      reason,
      el("p", { className: "field__hint", id: "contest-hint",
        text: "An adjuster will check your photos and the estimate and decide again. Until then your claim is with them, not decided." }),
      error,
      el("div", { className: "contest__actions" }, [send, cancel])
    ]);
    function show(visible) {
      form.hidden = !visible;
      open.hidden = visible;
      open.setAttribute("aria-expanded", visible ? "true" : "false");
      if (visible) reason.focus(); else open.focus();
    }
    open.addEventListener("click", function () { show(true); });
    cancel.addEventListener("click", function () { error.hidden = true; show(false); });
    form.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); error.hidden = true; show(false); }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (send.getAttribute("aria-busy") === "true") return;  // one request at a time
      send.setAttribute("aria-busy", "true");
      send.disabled = true;
      cancel.disabled = true;
      send.textContent = "Sending…";
      error.hidden = true;
      var text = reason.value.trim();
      CV.api(url, { method: "POST", body: text ? { reason: text } : {} }).then(function (updated) {
        handlers.onContested(updated);
      }, function (err) {
        send.removeAttribute("aria-busy");
        send.disabled = false;
        cancel.disabled = false;
        send.textContent = "Send to an adjuster";
        error.textContent = err.code === "not_contestable"
          ? err.message + " Reload the page to see where your claim is now."
          : err.message;
        error.hidden = false;
        reason.focus();
      });
    });
    return el("div", { className: "contest", id: "contest" }, [
      el("h3", { className: "contest__title", text: "Not happy with this result?" }),
      el("p", { className: "contest__text",
        text: "This decision was made by a computer. You can ask for a person to review it." }),
      open,
      form
    ]);
  }

  function resultCard(slot, claim, handlers) {
    var info = summary(claim);
    if (!info) return null;
    var card = el("section", { className: "card result result--" + info.tone, id: "result",
      "aria-labelledby": "result-title" }, [
      el("p", { className: "result__eyebrow", text: "Result" }),
      el("h2", { className: "result__title", id: "result-title", tabindex: "-1", text: info.title }),
      el("p", { className: "result__who", id: "result-who", text: info.who })
    ]);
    var facts = [severityBlock(claim.assessment), totalBlock(claim)].filter(Boolean);
    if (facts.length) card.appendChild(el("div", { className: "facts" }, facts));
    var reasons = reasonsBlock(claim);
    if (reasons) card.appendChild(reasons);
    if (claim.status === "more_photos_requested") {
      card.appendChild(el("p", {}, [el("a", {
        className: "button button--primary button--block", href: slot.dataset.photosUrl, text: "Add photos"
      })]));
    }
    if (claim.status === "auto_decided" && claim.decision && claim.decision.automatic) {
      card.appendChild(contestBlock(slot, claim, handlers));
    }
    var d = claim.decision;
    var versions = [];
    if (claim.assessment && claim.assessment.model_version) versions.push("assessment model " + claim.assessment.model_version);
    if (d && d.policy_version) versions.push("decision rules v" + d.policy_version);
    if (versions.length) card.appendChild(el("p", { className: "result__versions", text: "Based on " + versions.join(", ") + "." }));
    return card;
  }

  function damageCard(claim) {
    var photos = Array.isArray(claim.photos) ? claim.photos : [];
    if (!photos.some(function (p) { return p.assessment; })) return null;
    var body = el("div", { id: "damage" });
    var card = el("section", { className: "card", id: "damage-card", "aria-labelledby": "damage-title" }, [
      el("h2", { id: "damage-title", text: "Damage found" }),
      el("p", { className: "card__hint", text: "Tap a marked area or a type to highlight it." }),
      body
    ]);
    var drawn = CV.damage.render(body, claim);
    if (!drawn) card.querySelector(".card__hint").textContent = "We found no damage in your photos.";
    return card;
  }

  function estimateCard(claim) {
    var a = claim.assessment;
    if (!a || !Array.isArray(a.lines) || !a.lines.length) return null;
    var photoNumber = {};
    (claim.photos || []).forEach(function (p, i) { photoNumber[p.id] = i + 1; });
    var regionNumber = {};  // the number drawn on the photo is the region's position in its list
    (claim.photos || []).forEach(function (p) {
      ((p.assessment && p.assessment.regions) || []).forEach(function (r, i) { regionNumber[p.id + ":" + r.index] = i + 1; });
    });
    var colours = a.legend || {};
    var rows = a.lines.map(function (line) {
      var where = "photo " + (photoNumber[line.photo_id] || "?") + ", area " +
        (regionNumber[line.photo_id + ":" + line.region_index] || line.region_index + 1);
      var labour = hours(line.labour_hours) + " × " + money(line.hourly_rate, a.currency);
      return el("tr", { "data-key": line.photo_id + ":" + line.region_index }, [
        el("th", { scope: "row", className: "estimate__item" }, [
          el("span", { className: "estimate__desc", text: line.description || OPERATION_TEXT[line.operation] || line.operation }),
          el("span", { className: "estimate__meta" }, [
            colours[line.damage_type] ? swatch(colours[line.damage_type]) : null,
            CV.damage.labelName(line.damage_type, a.label_names) + ", " + CV.damage.severityName(line.severity) + " · ",
            el("span", { className: "nowrap", text: where })
          ]),
          el("span", { className: "estimate__meta estimate__narrow",
            text: labour + " labour" + (Number(line.parts_cost) ? " + " + money(line.parts_cost, a.currency) + " parts" : "") })
        ]),
        el("td", { className: "estimate__num estimate__wide", text: labour }),
        el("td", { className: "estimate__num estimate__wide", text: money(line.parts_cost, a.currency) }),
        el("td", { className: "estimate__num estimate__amount", text: money(line.total, a.currency) })
      ]);
    });
    var provisional = claim.status === "in_review" || claim.status === "more_photos_requested";
    var table = el("table", { className: "estimate", id: "estimate" }, [
      el("caption", { className: "visually-hidden", text: "Repair estimate, line by line, in " + a.currency }),
      el("thead", {}, [el("tr", {}, [
        el("th", { scope: "col", text: "Work" }),
        el("th", { scope: "col", className: "estimate__num estimate__wide", text: "Labour" }),
        el("th", { scope: "col", className: "estimate__num estimate__wide", text: "Parts" }),
        el("th", { scope: "col", className: "estimate__num", text: "Amount" })
      ])]),
      el("tbody", {}, rows),
      el("tfoot", {}, [el("tr", {}, [
        el("th", { scope: "row", text: provisional ? "Estimated total (to be confirmed)" : "Estimated total" }),
        el("td", { className: "estimate__wide" }),
        el("td", { className: "estimate__wide" }),
        el("td", { className: "estimate__num estimate__total", id: "estimate-total", text: money(a.estimate_total, a.currency) })
      ])])
    ]);
    var note = a.source === "adjuster" ? "Checked by an adjuster." :
      (provisional ? "Worked out from your photos; an adjuster will confirm it." : "Worked out from your photos.");
    return el("section", { className: "card", id: "estimate-card", "aria-labelledby": "estimate-title" }, [
      el("h2", { id: "estimate-title", text: "Repair estimate" }),
      el("p", { className: "card__hint", text: note + " Prices include labour and parts." }),
      el("div", { className: "estimate__scroll" }, [table])
    ]);
  }

  /* Redraw the result into ``slot``. Returns {photos: whether the damage photos are shown}. */
  function render(slot, claim, handlers, options) {
    options = options || {};
    handlers = handlers || {};
    var shown = RESULT_STATUSES.indexOf(claim.status) >= 0 && (claim.decision || claim.assessment);
    slot.textContent = "";
    if (!shown) {
      slot.hidden = true;
      return { photos: false };
    }
    var parts = [resultCard(slot, claim, handlers), damageCard(claim), estimateCard(claim)].filter(Boolean);
    parts.forEach(function (part) { slot.appendChild(part); });
    slot.hidden = false;
    if (options.contested) {
      CV.announce("result-live", "Your request was sent. Your claim is now with an adjuster.");
      focusTitle();
    } else if (!options.initial) {
      CV.announce("result-live", "The result of your claim is ready: " + (summary(claim) || {}).title + ".");
    }
    return { photos: !!slot.querySelector("#damage-card") };
  }

  function focusTitle() {
    var title = document.getElementById("result-title");
    if (!title) return;
    title.focus();
    if (title.scrollIntoView) title.scrollIntoView({ block: "start" });
  }

  window.CV = window.CV || {};
  CV.result = { render: render, money: money };
})();
