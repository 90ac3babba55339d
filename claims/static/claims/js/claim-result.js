/* The result of a claim on the customer's status page, drawn from the claim as the API returns
 * it (GET /api/v1/claims/{id}/): a short summary first (the outcome, who decided it, severity and
 * total, the reasons a person is checking it), then, folded on a phone, the damage over each
 * photo (damage-overlay.js) and the estimate line by line, and the form to contest or ask about
 * a decision (POST /api/v1/claims/{id}/contest/) with the state of the customer's request.
 *
 * The server sends only what a confident model or an adjuster stands behind: while a person
 * checks the claim there are no regions and no estimate, and the page says it is being checked.
 *
 * CV.result.render(slot, claim, {onContested}) redraws everything; claim-status.js calls it
 * with the claim the page was rendered with and again whenever a poll brings a new status. */
(function () {
  "use strict";
  var RESULT_STATUSES = ["auto_decided", "in_review", "more_photos_requested", "decided"];
  var SEVERITY_TEXT = {
    minor: pgettext("severity", "Minor"), moderate: pgettext("severity", "Moderate"), severe: pgettext("severity", "Severe")
  };
  // Wide screens have room for everything open; on a phone the long parts start folded.
  var WIDE = "(min-width: 48rem)";
  var SEVERITY_RANK = { minor: 0, moderate: 1, severe: 2 };
  var OPERATION_TEXT = {
    repair: pgettext("repair operation", "Repair"), replace: pgettext("repair operation", "Replace"),
    refinish: pgettext("repair operation", "Paint"), r_and_i: pgettext("repair operation", "Remove and refit"),
    blend: pgettext("repair operation", "Blend")
  };
  // Numbers, money and dates in the page's language (the one its words are in).
  var locale = document.documentElement.lang || (navigator.languages && navigator.languages[0]) || navigator.language || "en";

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
    return interpolate(gettext("%(hours)s h"), { hours: new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(Number(value) || 0) }, true);
  }

  /* A line's cost in words, shown under its name on narrow screens ("2 h × €85.00 labour"). */
  function lineCost(line, labour, currency) {
    return el("span", { className: "estimate__meta estimate__narrow",
      text: Number(line.parts_cost)
        ? interpolate(gettext("%(labour)s labour + %(parts)s parts"), { labour: labour, parts: money(line.parts_cost, currency) }, true)
        : interpolate(gettext("%(labour)s labour"), { labour: labour }, true) });
  }

  /* A line's labour, parts and total cells (the first two on wide screens only). */
  function lineAmounts(line, labour, currency, totalClass) {
    return [
      el("td", { className: "estimate__num estimate__wide", text: labour }),
      el("td", { className: "estimate__num estimate__wide", text: money(line.parts_cost, currency) }),
      el("td", { className: totalClass, text: money(line.total, currency) })
    ];
  }

  /* "1 and 2": photo numbers as a list in the page's language. */
  function numberList(numbers) {
    var items = numbers.map(String);
    try {
      return new Intl.ListFormat(locale, { style: "long", type: "conjunction" }).format(items);
    } catch (err) {
      return items.join(", ");
    }
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
    var contest = claim.contest;
    if (status === "more_photos_requested" || (d && d.outcome === "more_photos" && status !== "decided")) {
      return { tone: "action", title: gettext("More photos needed"),
        who: gettext("An adjuster needs more photos of the damage before deciding.") };
    }
    if (status === "in_review") {
      if (contest && contest.state === "open") {
        return { tone: "review", title: gettext("Being checked again"),
          who: gettext("A senior adjuster is looking at your claim again, as you asked. We will let you know the outcome.") };
      }
      return { tone: "review", title: gettext("Being checked"),
        who: gettext("An adjuster is checking the damage in your photos and will work out the repair estimate. You do not need to do anything for now.") };
    }
    if (status === "auto_decided") {
      return { tone: d && d.outcome === "no_damage" ? "neutral" : "ok",
        title: d ? d.outcome_display : gettext("Decided automatically"),
        who: at
          ? interpolate(gettext("Decided automatically by our assessment system on %(date)s. No person has reviewed it yet."), { date: at }, true)
          : gettext("Decided automatically by our assessment system. No person has reviewed it yet.") };
    }
    if (status === "decided") {
      var denied = d && d.outcome === "denied";
      var automatic = d && d.automatic;
      var who;
      if (at) {
        who = interpolate(automatic ? gettext("Decided automatically on %(date)s.") : gettext("Decided by an adjuster on %(date)s."), { date: at }, true);
      } else {
        who = automatic ? gettext("Decided automatically.") : gettext("Decided by an adjuster.");
      }
      return { tone: denied ? "denied" : "ok", title: d ? d.outcome_display : gettext("Decided"), who: who };
    }
    return null;
  }

  function severityBlock(assessment) {
    if (!assessment) return null;
    if (!assessment.region_count || !assessment.overall_severity) {
      return el("div", { className: "fact" }, [
        el("span", { className: "fact__label", text: gettext("Damage") }),
        el("span", { className: "fact__value", text: gettext("No damage found") })
      ]);
    }
    var sev = SEVERITY_TEXT[assessment.overall_severity] || assessment.overall_severity;
    var areas = interpolate(ngettext("%(count)s damaged area", "%(count)s damaged areas", assessment.region_count), { count: assessment.region_count }, true);
    return el("div", { className: "fact" }, [
      el("span", { className: "fact__label", text: gettext("Overall damage") }),
      el("span", { className: "fact__value" }, [
        el("span", { className: "sev sev--" + assessment.overall_severity, id: "overall-severity", text: sev }),
        " ", el("span", { className: "fact__note", text: areas })
      ])
    ]);
  }

  function totalBlock(claim) {
    var a = claim.assessment;
    if (!a || !a.region_count) return null;
    return el("div", { className: "fact" }, [
      el("span", { className: "fact__label", text: gettext("Repair estimate") }),
      el("span", { className: "fact__value fact__value--money", id: "summary-total", text: money(a.estimate_total, a.currency) }),
      el("span", { className: "fact__note", text: a.source === "adjuster" ? gettext("Checked by an adjuster") : gettext("Worked out from your photos") })
    ]);
  }

  function reasonsBlock(claim) {
    var d = claim.decision;
    var reasons = d && Array.isArray(d.reasons) ? d.reasons : [];
    if (!reasons.length) return null;
    var title = gettext("Why a person is checking it");
    if (claim.status === "more_photos_requested" || d.outcome === "more_photos") title = gettext("What the adjuster asks for");
    else if (claim.status === "decided") title = gettext("Notes from the adjuster");
    else if (claim.status === "auto_decided") title = gettext("Notes");
    return el("div", { className: "reasons" }, [
      el("h3", { className: "reasons__title", text: title }),
      el("ul", { className: "reasons__list" }, uniqueReasons(reasons).map(function (r) {
        return el("li", { "data-code": r.code, text: reasonText(r) });
      }))
    ]);
  }

  /* The customer's latest request to look at a decision again, and where it stands. */
  function contestState(claim) {
    var c = claim.contest;
    if (!c) return null;
    var asked = when(c.created_at);
    var text;
    if (c.state === "open") {
      text = asked
        ? interpolate(gettext("You asked on %(date)s for this decision to be looked at again. A senior adjuster is on it; you do not need to do anything."), { date: asked }, true)
        : gettext("You asked for this decision to be looked at again. A senior adjuster is on it; you do not need to do anything.");
    } else {
      text = (asked
        ? interpolate(gettext("You asked on %(date)s for the decision to be looked at again."), { date: asked }, true)
        : gettext("You asked for the decision to be looked at again.")) + " " +
        (claim.status === "decided" || claim.status === "auto_decided" ? gettext("The result above is the answer.") : gettext("It was answered."));
    }
    return el("div", { className: "contest-state contest-state--" + c.state, id: "contest-state" }, [
      el("p", { className: "contest-state__text", text: text }),
      c.reason ? el("blockquote", { className: "contest-state__reason", text: c.reason }) : null
    ]);
  }

  function contestBlock(slot, claim, handlers) {
    var url = slot.dataset.contestApi;
    var automatic = !!(claim.decision && claim.decision.automatic);
    var openText = automatic ? gettext("Ask for a person to review") : gettext("Ask about or contest this decision");
    var open = el("button", {
      type: "button", className: "button button--secondary button--block", id: "contest-open",
      "aria-expanded": "false", "aria-controls": "contest-form", text: openText
    });
    var reason = el("textarea", { id: "contest-reason", name: "reason", maxlength: "1000", rows: "3",
      "aria-describedby": "contest-hint" });
    var error = el("p", { className: "notice notice--error", id: "contest-error", role: "alert", hidden: true });
    var sendText = automatic ? gettext("Send to an adjuster") : gettext("Send to a senior adjuster");
    var send = el("button", { type: "submit", className: "button button--primary", id: "contest-send",
      text: sendText });
    var cancel = el("button", { type: "button", className: "button button--secondary", text: gettext("Cancel") });
    var form = el("form", { className: "contest__form", id: "contest-form", hidden: true, novalidate: true }, [
      el("label", { className: "field__label", for: "contest-reason" }, [
        (automatic ? gettext("What should the adjuster look at?") : gettext("What do you disagree with, or want to ask?")) + " ",
        el("span", { className: "optional", text: gettext("(optional)") })
      ]),
      reason,
      el("p", { className: "field__hint", id: "contest-hint",
        text: automatic
          ? gettext("An adjuster will check your photos and the estimate and decide again. Until then your claim is with them, not decided.")
          : gettext("A senior adjuster, not the one who decided, will look at your claim and answer. Until then your claim is with them.") }),
      error,
      el("div", { className: "contest__actions" }, [send, cancel])
    ]);
    function hideError() { error.hidden = true; error.textContent = ""; }
    function show(visible) {
      form.hidden = !visible;
      open.hidden = visible;
      open.setAttribute("aria-expanded", visible ? "true" : "false");
      if (visible) reason.focus(); else open.focus();
    }
    open.addEventListener("click", function () { show(true); });
    cancel.addEventListener("click", function () { hideError(); show(false); });
    reason.addEventListener("input", function () { if (!error.hidden) hideError(); });  // fixed: gone
    form.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); hideError(); show(false); }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (send.getAttribute("aria-busy") === "true") return;  // one request at a time
      send.setAttribute("aria-busy", "true");
      send.disabled = true;
      cancel.disabled = true;
      send.textContent = gettext("Sending…");
      hideError();
      var text = reason.value.trim();
      CV.api(url, { method: "POST", body: text ? { reason: text } : {} }).then(function (updated) {
        handlers.onContested(updated);
      }, function (err) {
        send.removeAttribute("aria-busy");
        send.disabled = false;
        cancel.disabled = false;
        send.textContent = sendText;
        error.textContent = err.code === "not_contestable" || err.code === "contest_open"
          ? interpolate(gettext("%(message)s Reload the page to see where your claim is now."), { message: err.message }, true)
          : err.message;
        error.hidden = false;
        reason.focus();
      });
    });
    return el("div", { className: "contest", id: "contest" }, [
      el("h3", { className: "contest__title", text: automatic ? gettext("Not happy with this result?") : gettext("Disagree, or have a question?") }),
      el("p", { className: "contest__text",
        text: automatic
          ? gettext("This decision was made by a computer. You can ask for a person to review it.")
          : gettext("You can ask for this decision to be looked at again by a senior adjuster, or ask about it.") }),
      open,
      form
    ]);
  }

  function resultCard(slot, claim, handlers) {
    var info = summary(claim);
    if (!info) return null;
    var card = el("section", { className: "card result result--" + info.tone, id: "result",
      "aria-labelledby": "result-title" }, [
      el("p", { className: "result__eyebrow", text: gettext("Result") }),
      el("h2", { className: "result__title", id: "result-title", tabindex: "-1", text: info.title }),
      el("p", { className: "result__who", id: "result-who", text: info.who })
    ]);
    var facts = [severityBlock(claim.assessment), totalBlock(claim)].filter(Boolean);
    if (facts.length) card.appendChild(el("div", { className: "facts" }, facts));
    var reasons = reasonsBlock(claim);
    if (reasons) card.appendChild(reasons);
    if (claim.status === "more_photos_requested") {
      card.appendChild(el("p", {}, [el("a", {
        className: "button button--primary button--block", href: slot.dataset.photosUrl, text: gettext("Add photos")
      })]));
    }
    var state = contestState(claim);
    if (state) card.appendChild(state);
    if (claim.can_contest && claim.decision) card.appendChild(contestBlock(slot, claim, handlers));
    return card;
  }

  function damageCard(claim) {
    var photos = Array.isArray(claim.photos) ? claim.photos : [];
    if (!photos.some(function (p) { return p.assessment; })) return null;
    var body = el("div", { id: "damage" });
    var hint = el("p", { className: "card__hint", text: gettext("Tap a marked area or a type to highlight it.") });
    var count = el("span", { className: "fold__note" });
    var card = fold("damage-card", "damage-title", gettext("Damage on your photos"), count, [hint, body]);
    var drawn = CV.damage.render(body, claim);
    var n = interpolate(ngettext("%(count)s photo", "%(count)s photos", photos.length), { count: photos.length }, true);
    count.textContent = drawn
      ? interpolate(ngettext("%(count)s area on %(photos)s", "%(count)s areas on %(photos)s", drawn), { count: drawn, photos: n }, true)
      : n;
    if (!drawn) hint.textContent = gettext("We found no damage in your photos.");
    return card;
  }

  /* The lines of one damaged part under a heading row: the part in the customer's words, its
     damage, the photos that show it, a button that shows its evidence on those photos, and the
     part's total; then one row per operation. */
  function partGroup(claim, part, lines, photoNumber, canShow) {
    var a = claim.assessment;
    var name = (a.part_names && a.part_names[part]) || CV.damage.labelName(part || "unknown part");
    var keys = [];
    var photoIds = [];
    var types = [];
    lines.forEach(function (line) {
      var evidence = Array.isArray(line.evidence) && line.evidence.length
        ? line.evidence : [{ photo_id: line.photo_id, region_index: line.region_index }];
      evidence.forEach(function (e) {
        var key = e.photo_id + ":" + e.region_index;
        if (keys.indexOf(key) < 0) keys.push(key);
        if (photoIds.indexOf(e.photo_id) < 0) photoIds.push(e.photo_id);
      });
      String(line.damage_type || "").split(",").forEach(function (t) {
        t = t.trim();
        if (t && types.indexOf(t) < 0) types.push(t);
      });
    });
    var numbers = photoIds.map(function (id) { return photoNumber[id]; }).filter(Boolean)
      .sort(function (x, y) { return x - y; });
    var seen = interpolate(ngettext("seen on photo %(photos)s", "seen on photos %(photos)s", numbers.length),
      { photos: numberList(numbers) }, true);
    var worst = lines.reduce(function (w, l) { return SEVERITY_RANK[l.severity] > SEVERITY_RANK[w] ? l.severity : w; }, "minor");
    var damage = types.map(function (t) { return CV.damage.labelName(t, a.label_names); }).join(", ");
    var total = lines.reduce(function (sum, l) { return sum + (Number(l.total) || 0); }, 0);
    var heading = el("th", { scope: "rowgroup", className: "estimate__item" }, [
      el("span", { className: "estimate__part", text: name }),
      el("span", { className: "estimate__meta" }, [
        (damage ? damage + ", " + CV.damage.severityName(worst) + " · " : ""),
        el("span", { className: "nowrap", text: seen })
      ])
    ]);
    if (canShow && numbers.length) {
      var show = el("button", {
        type: "button", className: "button button--secondary button--small part-show",
        "aria-pressed": "false", "aria-controls": "damage-card", "data-part": part,
        text: gettext("Show on photos")
      });
      show.setAttribute("aria-label", interpolate(gettext("Show %(part)s on the photos"), { part: name }, true));
      show.addEventListener("click", function () { showPart(part, name, keys, numbers); });
      heading.appendChild(show);
    }
    var rows = [el("tr", { className: "estimate__part-row", "data-part": part }, [
      heading,
      el("td", { className: "estimate__wide" }),
      el("td", { className: "estimate__wide" }),
      el("td", { className: "estimate__num estimate__amount estimate__part-total", text: money(total, a.currency) })
    ])];
    lines.forEach(function (line) {
      var labour = hours(line.labour_hours) + " × " + money(line.hourly_rate, a.currency);
      rows.push(el("tr", { className: "estimate__op", "data-part": part, "data-operation": line.operation }, [
        el("th", { scope: "row", className: "estimate__item" }, [
          el("span", { className: "estimate__desc", text: OPERATION_TEXT[line.operation] || line.description || line.operation }),
          lineCost(line, labour, a.currency)
        ])
      ].concat(lineAmounts(line, labour, a.currency, "estimate__num"))));
    });
    return el("tbody", { className: "estimate__group", "data-part": part }, rows);
  }

  /* Tapping a part: open the damage card, highlight the part's regions on its photos (and the
     photos themselves), bring the first into view and say so; tapping again clears it. */
  function showPart(part, name, keys, numbers) {
    var root = document.getElementById("damage");
    var card = document.getElementById("damage-card");
    if (!root || !card) return;
    var wanted = "part:" + part;
    var on = root.dataset.selected !== wanted;
    card.open = true;
    CV.damage.select(root, on ? wanted : "", keys);
    if (!on) return;
    var first = root.querySelector(".damage-photo.is-evidence");
    if (first && first.scrollIntoView) first.scrollIntoView({ block: "start", behavior: "smooth" });
    CV.announce("result-live", interpolate(ngettext("%(part)s is shown on photo %(photos)s.",
      "%(part)s is shown on photos %(photos)s.", numbers.length), { part: name, photos: numberList(numbers) }, true));
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
    // Lines by part under their part (in the order the estimate lists them); lines priced per
    // region (no part) one by one after them, as before parts existed.
    var partOrder = [];
    var partLines = {};
    a.lines.forEach(function (line) {
      if (line.part === null || line.part === undefined) return;
      if (!partLines[line.part]) { partLines[line.part] = []; partOrder.push(line.part); }
      partLines[line.part].push(line);
    });
    var canShow = (claim.photos || []).some(function (p) { return p.assessment; });
    var groups = partOrder.map(function (part) { return partGroup(claim, part, partLines[part], photoNumber, canShow); });
    var single = a.lines.filter(function (line) { return line.part === null || line.part === undefined; });
    var rows = single.map(function (line) {
      var where = interpolate(gettext("photo %(photo)s, area %(area)s"), {
        photo: photoNumber[line.photo_id] || "?",
        area: regionNumber[line.photo_id + ":" + line.region_index] || line.region_index + 1
      }, true);
      var labour = hours(line.labour_hours) + " × " + money(line.hourly_rate, a.currency);
      return el("tr", { "data-key": line.photo_id + ":" + line.region_index }, [
        el("th", { scope: "row", className: "estimate__item" }, [
          el("span", { className: "estimate__desc", text: line.description || OPERATION_TEXT[line.operation] || line.operation }),
          el("span", { className: "estimate__meta" }, [
            colours[line.damage_type] ? swatch(colours[line.damage_type]) : null,
            CV.damage.labelName(line.damage_type, a.label_names) + ", " + CV.damage.severityName(line.severity) + " · ",
            el("span", { className: "nowrap", text: where })
          ]),
          lineCost(line, labour, a.currency)
        ])
      ].concat(lineAmounts(line, labour, a.currency, "estimate__num estimate__amount")));
    });
    var table = el("table", { className: "estimate", id: "estimate" }, [
      el("caption", { className: "visually-hidden", text: partOrder.length
        ? interpolate(gettext("Repair estimate by car part, in %(currency)s"), { currency: a.currency }, true)
        : interpolate(gettext("Repair estimate, line by line, in %(currency)s"), { currency: a.currency }, true) }),
      el("thead", {}, [el("tr", {}, [
        el("th", { scope: "col", text: gettext("Work") }),
        el("th", { scope: "col", className: "estimate__num estimate__wide", text: gettext("Labour") }),
        el("th", { scope: "col", className: "estimate__num estimate__wide", text: gettext("Parts") }),
        el("th", { scope: "col", className: "estimate__num", text: gettext("Amount") })
      ])])
    ].concat(groups, rows.length ? [el("tbody", {}, rows)] : [], [
      el("tfoot", {}, [el("tr", {}, [
        el("th", { scope: "row", text: gettext("Estimated total") }),
        el("td", { className: "estimate__wide" }),
        el("td", { className: "estimate__wide" }),
        el("td", { className: "estimate__num estimate__total", id: "estimate-total", text: money(a.estimate_total, a.currency) })
      ])])
    ]));
    var note = a.source === "adjuster" ? gettext("Checked by an adjuster.") : gettext("Worked out from your photos.");
    var lines = partOrder.length
      ? interpolate(ngettext("%(count)s part", "%(count)s parts", partOrder.length), { count: partOrder.length }, true)
      : interpolate(ngettext("%(count)s line", "%(count)s lines", a.lines.length), { count: a.lines.length }, true);
    if (partOrder.length && single.length) {
      lines += ", " + interpolate(ngettext("%(count)s line", "%(count)s lines", single.length), { count: single.length }, true);
    }
    return fold("estimate-card", "estimate-title", gettext("Repair estimate"),
      el("span", { className: "fold__note", text: lines + " · " + money(a.estimate_total, a.currency) }), [
        el("p", { className: "card__hint", text: note + " " + gettext("Prices include labour and parts.") }),
        el("div", { className: "estimate__scroll" }, [table])
      ]);
  }

  /* A card that folds (details/summary): open on a wide screen, folded on a phone. */
  function fold(id, titleId, title, note, children) {
    var open = !!(window.matchMedia && window.matchMedia(WIDE).matches);
    return el("details", { className: "card fold", id: id, open: open }, [
      el("summary", { className: "fold__summary" }, [
        el("h2", { className: "fold__title", id: titleId, text: title }),
        note
      ])
    ].concat(children));
  }

  /* What the live region says after a change: what happened, in the page's words. */
  function liveText(claim) {
    var info = summary(claim) || {};
    if (claim.status === "in_review") return gettext("Your claim is being checked by an adjuster.");
    if (claim.status === "more_photos_requested") return gettext("An adjuster needs more photos before deciding.");
    if (claim.status === "auto_decided" || claim.status === "decided") {
      return interpolate(gettext("The result of your claim is ready: %(result)s."), { result: info.title }, true);
    }
    return "";
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
      CV.announce("result-live", gettext("Your request was sent. A senior adjuster will look at your claim again."));
      focusTitle();
    } else if (!options.initial && liveText(claim)) {
      CV.announce("result-live", liveText(claim));
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
