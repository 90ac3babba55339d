/* Damage drawn over the customer's photos: one SVG per photo, laid exactly over the image, in
 * the mask's own pixel coordinates (viewBox = mask size, stretched to the displayed image), so
 * the regions stay in place at any screen width without JavaScript on resize.
 *
 * Each region is its polygon filled in its type's legend colour at 35 % opacity with a solid
 * outline (over a dark halo, so light colours stay visible on light paint). A legend lists the
 * types present; tapping a region, its line in the list under the photo, or a legend entry
 * highlights it (and dims the rest). The list under each photo is the text alternative:
 * "Dent, moderate, 92% confidence" (or "checked by an adjuster" for an adjuster's region).
 * Number badges are placed so that they never cover one another (markerPositions). */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var FALLBACK_COLOURS = ["#0072b2", "#e69f00", "#d55e00", "#56b4e9", "#f0e442", "#cc79a7", "#009e73"];
  var COLOUR_RE = /^#[0-9a-fA-F]{6}$/;
  var SEVERITY_NAMES = {
    minor: pgettext("severity, within a sentence", "minor"),
    moderate: pgettext("severity, within a sentence", "moderate"),
    severe: pgettext("severity, within a sentence", "severe")
  };

  /* The name a customer reads for a damage type: the label map's display name, which the
   * server sends with the claim's assessment (``label_names``), else the type in words. */
  function labelName(label, names) {
    if (names && typeof names[label] === "string" && names[label]) return names[label];
    var words = String(label || "damage").replace(/[_-]+/g, " ").trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function severityName(severity) {
    return SEVERITY_NAMES[severity] || String(severity || "");
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    setAttrs(node, attrs);
    return node;
  }

  function setAttrs(node, attrs) {
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.setAttribute("class", value);
      else node.setAttribute(key, value === true ? "" : String(value));
    });
  }

  function append(node, children) {
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
  }

  /* label -> "#rrggbb": the claim's legend first, then a stable fallback per unknown label. */
  function palette(legend) {
    var colours = {};
    var spare = 0;
    Object.keys(legend || {}).forEach(function (label) {
      if (COLOUR_RE.test(legend[label])) colours[label] = legend[label].toLowerCase();
    });
    return function (label) {
      if (!colours[label]) colours[label] = FALLBACK_COLOURS[spare++ % FALLBACK_COLOURS.length];
      return colours[label];
    };
  }

  function percent(value) {
    return Math.round(Math.max(0, Math.min(1, Number(value) || 0)) * 100) + "%";
  }

  /* An adjuster's region has no model confidence: it says who stands behind it instead. */
  function regionText(region, names) {
    var basis = region.confidence === null || region.confidence === undefined
      ? gettext("checked by an adjuster")
      : interpolate(gettext("%(percent)s confidence"), { percent: percent(region.confidence) }, true);
    return labelName(region.label, names) + ", " + severityName(region.severity) + ", " + basis;
  }

  /* Polygon points in mask pixels. Contours run through boundary pixel indices; +0.5 puts them
   * on the pixel centres, so the outline sits on the damage, not half a pixel up and left. */
  function points(region) {
    var poly = Array.isArray(region.polygon) ? region.polygon : [];
    if (poly.length < 3 && Array.isArray(region.bbox) && region.bbox.length === 4) {
      var b = region.bbox;
      poly = [[b[0], b[1]], [b[0] + b[2] - 1, b[1]], [b[0] + b[2] - 1, b[1] + b[3] - 1], [b[0], b[1] + b[3] - 1]];
    }
    return poly.map(function (p) { return (Number(p[0]) + 0.5) + "," + (Number(p[1]) + 0.5); }).join(" ");
  }

  function swatch(colour) {
    var s = el("span", { className: "swatch", "aria-hidden": "true" });
    s.style.setProperty("--swatch", colour);
    return s;
  }

  // A number badge's size as a share of the photo's width on a phone (1.35rem on a frame
  // about 310 px wide, plus a small gap), and the CSS clamp that keeps badges inside the frame.
  var MARKER_SHARE = 0.085;
  var MARKER_EDGE = 0.04;

  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  /* Where each region's number goes: its box's top-left corner, moved down (then right) past
   * any badge already placed there, so two regions that start close never share one spot. */
  function markerPositions(regions, width, height) {
    var w = MARKER_SHARE;
    var h = MARKER_SHARE * (width / height);  // the same size in shares of the height
    var placed = [];
    return regions.map(function (region) {
      var b = Array.isArray(region.bbox) && region.bbox.length === 4 ? region.bbox : [0, 0, 0, 0];
      var x = clamp(b[0] / width, MARKER_EDGE, 1 - MARKER_EDGE);
      var y = clamp(b[1] / height, MARKER_EDGE * (width / height), 1 - MARKER_EDGE * (width / height));
      var y0 = y;
      for (var tries = 0; tries < 60; tries++) {
        var hit = placed.some(function (p) { return Math.abs(p.x - x) < w && Math.abs(p.y - y) < h; });
        if (!hit) break;
        y += h;
        if (y > 1 - h / 2) { y = y0; x += w; }
        if (x > 1 - w / 2) { x = MARKER_EDGE; y0 = clamp(y0 + h, 0, 1 - h / 2); y = y0; }
      }
      placed.push({ x: x, y: y });
      return { left: (x * 100).toFixed(2) + "%", top: (y * 100).toFixed(2) + "%" };
    });
  }

  function photoFigure(photo, number, total, colourOf, names) {
    var assessment = photo.assessment;
    var regions = assessment && Array.isArray(assessment.regions) ? assessment.regions : [];
    var frame = el("div", { className: "damage-photo__frame" });
    if (photo.width && photo.height) frame.style.aspectRatio = photo.width + " / " + photo.height;
    var areas = interpolate(ngettext("%(count)s damaged area marked", "%(count)s damaged areas marked", regions.length), { count: regions.length }, true);
    var alt = photo.original_name
      ? interpolate(gettext("Photo %(number)s of %(total)s: %(name)s"), { number: number, total: total, name: photo.original_name }, true)
      : interpolate(gettext("Photo %(number)s of %(total)s"), { number: number, total: total }, true);
    frame.appendChild(el("img", {
      className: "damage-photo__img",
      src: photo.image_url,
      alt: alt + (assessment ? ", " + areas : ""),
      width: photo.width || null,
      height: photo.height || null,
      decoding: "async"
    }));
    var list = null;
    if (assessment && regions.length) {
      var mw = assessment.mask_width || photo.width;
      var mh = assessment.mask_height || photo.height;
      var overlay = svg("svg", {
        className: "damage-photo__overlay",
        viewBox: "0 0 " + mw + " " + mh,
        preserveAspectRatio: "none",
        "aria-hidden": "true",
        focusable: "false"
      });
      list = el("ol", { className: "region-list", "aria-label": interpolate(gettext("Damage on photo %(number)s"), { number: number }, true) });
      var markers = [];
      var positions = markerPositions(regions, mw, mh);
      regions.forEach(function (region, i) {
        var colour = colourOf(region.label);
        var key = photo.id + ":" + region.index;
        var pts = points(region);
        var group = svg("g", { className: "region", "data-key": key, "data-label": region.label });
        group.appendChild(svg("polygon", { className: "region__halo", points: pts }));
        group.appendChild(svg("polygon", {
          className: "region__shape", points: pts, fill: colour, stroke: colour
        }));
        overlay.appendChild(group);
        var marker = el("span", {
          className: "damage-photo__marker", "aria-hidden": "true", "data-key": key, text: String(i + 1)
        });
        var pos = positions[i];
        marker.style.setProperty("--x", pos.left);
        marker.style.setProperty("--y", pos.top);
        marker.style.setProperty("--swatch", colour);
        markers.push(marker);
        list.appendChild(el("li", {}, [el("button", {
          type: "button",
          className: "region-item",
          "aria-pressed": "false",
          "data-key": key,
          "data-label": region.label
        }, [
          el("span", { className: "region-item__num", "aria-hidden": "true", text: String(i + 1) }),
          swatch(colour),
          el("span", { className: "region-item__text", text: regionText(region, names) })
        ])]));
      });
      frame.appendChild(overlay);
      markers.forEach(function (m) { frame.appendChild(m); });  // numbers above every shape
    }
    var caption;
    if (!assessment) caption = interpolate(gettext("Photo %(number)s: not assessed yet."), { number: number }, true);
    else if (!regions.length) caption = interpolate(gettext("Photo %(number)s: no damage found."), { number: number }, true);
    else caption = interpolate(ngettext("Photo %(number)s: %(count)s damaged area", "Photo %(number)s: %(count)s damaged areas", regions.length), { number: number, count: regions.length }, true);
    return el("li", { className: "damage-photo", "data-photo": photo.id }, [
      el("figure", { className: "damage-photo__figure" }, [
        frame,
        el("figcaption", { className: "damage-photo__caption", text: caption })
      ]),
      list
    ]);
  }

  function legendList(labels, counts, colourOf, names) {
    return el("ul", { className: "legend", "aria-label": gettext("Damage types: tap one to highlight it") },
      labels.map(function (label) {
        return el("li", {}, [el("button", {
          type: "button", className: "legend__item", "aria-pressed": "false", "data-label": label
        }, [
          swatch(colourOf(label)),
          el("span", { text: labelName(label, names) }),
          el("span", { className: "legend__count", text: "(" + counts[label] + ")" })
        ])]);
      }));
  }

  /* Highlight one region ("photo:index"), every region of a type ("type:dent"), a damaged
   * part's evidence ("part:front_bumper" with ``keys``, its "photo:index" list: its regions and
   * the photos they are on, also a photo whose regions are not drawn), or none. */
  function select(root, selection, keys) {
    root.dataset.selected = selection || "";
    var has = !!selection;
    var isPart = has && selection.indexOf("part:") === 0;
    var evidence = {};
    var evidencePhotos = {};
    (isPart ? keys || [] : []).forEach(function (key) {
      evidence[key] = true;
      evidencePhotos[key.slice(0, key.lastIndexOf(":"))] = true;
    });
    function matches(node) {
      if (!has) return false;
      if (selection.indexOf("type:") === 0) return node.getAttribute("data-label") === selection.slice(5);
      if (isPart) return !!evidence[node.getAttribute("data-key")];
      return node.getAttribute("data-key") === selection;
    }
    Array.prototype.forEach.call(root.querySelectorAll(".damage-photo"), function (li) {
      li.classList.toggle("is-evidence", !!evidencePhotos[li.getAttribute("data-photo")]);
    });
    // The estimate's "Show on photos" buttons say whether their part is the one shown.
    Array.prototype.forEach.call(document.querySelectorAll(".part-show"), function (b) {
      b.setAttribute("aria-pressed", selection === "part:" + b.getAttribute("data-part") ? "true" : "false");
    });
    root.classList.toggle("damage--selecting", has);
    Array.prototype.forEach.call(root.querySelectorAll(".region"), function (g) {
      g.classList.toggle("is-active", matches(g));
    });
    Array.prototype.forEach.call(root.querySelectorAll(".damage-photo__marker"), function (m) {
      var g = root.querySelector('.region[data-key="' + m.getAttribute("data-key") + '"]');
      m.classList.toggle("is-active", !!g && g.classList.contains("is-active"));
    });
    Array.prototype.forEach.call(root.querySelectorAll(".region-item"), function (b) {
      var on = matches(b);
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.classList.toggle("is-active", on);
    });
    Array.prototype.forEach.call(root.querySelectorAll(".legend__item"), function (b) {
      b.setAttribute("aria-pressed", selection === "type:" + b.getAttribute("data-label") ? "true" : "false");
    });
  }

  /* Fill ``root`` with the legend and the photos of ``claim``. Returns how many regions it drew. */
  function render(root, claim) {
    var photos = Array.isArray(claim.photos) ? claim.photos : [];
    var legend = (claim.assessment && claim.assessment.legend) || {};
    var names = (claim.assessment && claim.assessment.label_names) || {};
    var colourOf = palette(legend);
    var counts = {};
    var order = [];
    photos.forEach(function (photo) {
      var regions = (photo.assessment && photo.assessment.regions) || [];
      regions.forEach(function (r) {
        if (!counts[r.label]) { counts[r.label] = 0; order.push(r.label); }
        counts[r.label] += 1;
      });
    });
    // Legend order: the label map's order where known, then first appearance.
    var known = Object.keys(legend);
    order.sort(function (a, b) {
      var ia = known.indexOf(a), ib = known.indexOf(b);
      return (ia < 0 ? 1e3 : ia) - (ib < 0 ? 1e3 : ib);
    });
    order.forEach(colourOf);
    root.textContent = "";
    root.classList.add("damage");
    if (order.length) {
      root.appendChild(el("h3", { className: "damage__subtitle", id: "legend-title", text: gettext("Types of damage") }));
      root.appendChild(legendList(order, counts, colourOf, names));
    }
    root.appendChild(el("ol", { className: "damage-photos", "aria-label": gettext("Your photos with the damage marked") },
      photos.map(function (photo, i) { return photoFigure(photo, i + 1, photos.length, colourOf, names); })));

    root.onclick = function (event) {
      var target = event.target;
      var button = target.closest ? target.closest(".region-item, .legend__item") : null;
      var current = root.dataset.selected || "";
      if (button) {
        var wanted = button.classList.contains("legend__item")
          ? "type:" + button.getAttribute("data-label") : button.getAttribute("data-key");
        select(root, current === wanted ? "" : wanted);
        return;
      }
      var shape = target.closest ? target.closest(".region") : null;
      if (shape) {
        var key = shape.getAttribute("data-key");
        select(root, current === key ? "" : key);
      } else if (target.closest && target.closest(".damage-photo__frame")) {
        select(root, "");
      }
    };
    root.onkeydown = function (event) {
      if (event.key === "Escape" && root.dataset.selected) select(root, "");
    };
    return order.reduce(function (n, label) { return n + counts[label]; }, 0);
  }

  window.CV = window.CV || {};
  CV.damage = {
    render: render,
    el: el,
    select: select,
    labelName: labelName,
    severityName: severityName,
    regionText: regionText,
    swatch: swatch
  };
})();
