/* Add photos to a draft claim.
 *
 * Each chosen file becomes a card: a preview downscaled in the browser (for the preview only),
 * a progress bar fed by XMLHttpRequest upload progress, and the server's verdict. The ORIGINAL
 * file bytes are uploaded unchanged. Every photo carries its own Idempotency-Key, kept across
 * retries, so a retried upload can never store the photo twice. */
(function () {
  "use strict";
  var app = document.getElementById("photo-app");
  if (!app) return;

  var uploadUrl = app.dataset.uploadUrl;
  var photoUrlTemplate = app.dataset.photoUrl;
  var maxPhotos = parseInt(app.dataset.maxPhotos, 10);
  var maxBytes = parseInt(app.dataset.maxBytes, 10);
  var maxMb = app.dataset.maxMb;
  var list = document.getElementById("photo-list");
  var template = document.getElementById("photo-template");
  var countEl = document.getElementById("photo-count");
  var continueLink = document.getElementById("continue");
  var continueHint = document.getElementById("continue-hint");
  var camera = document.getElementById("camera-input");
  var library = document.getElementById("library-input");

  var PREVIEW_SIDE = 320;  // px: a thumbnail at twice its 88 px display size on dense screens
  var PARALLEL = 2;        // uploads at once: a phone link is the bottleneck, not the server
  // Errors a retry cannot fix (the file itself is refused, or the claim is no longer a draft).
  var PERMANENT = ["file_too_large", "unsupported_image_type", "image_too_many_pixels", "empty_file",
    "claim_not_editable", "too_many_files"];

  var items = [];
  var seq = 0;
  var replaceTarget = null;  // the card a "Retake" replaces once new photos are chosen
  var retakeArmed = false;
  var previewChain = Promise.resolve();

  function say(text) { CV.announce("announcer", text); }
  function alertSay(text) { CV.announce("alerter", text); }

  /* ---- previews: decode, downscale into a canvas, show as a small JPEG blob ---------------- */
  function decode(file) {
    if (window.createImageBitmap) {
      // resizeWidth alone keeps the aspect ratio and spares a full-size bitmap in memory.
      return createImageBitmap(file, { resizeWidth: PREVIEW_SIDE, resizeQuality: "medium", imageOrientation: "from-image" })
        .catch(function () { return createImageBitmap(file); })
        .catch(function () { return decodeWithImg(file); });
    }
    return decodeWithImg(file);
  }

  function decodeWithImg(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("not an image")); };
      img.src = url;
    });
  }

  function makePreview(file) {
    return decode(file).then(function (source) {
      var w = source.width, h = source.height;
      var scale = Math.min(1, PREVIEW_SIDE / Math.max(w, h));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(w * scale));
      canvas.height = Math.max(1, Math.round(h * scale));
      canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
      if (source.close) source.close();
      return new Promise(function (resolve, reject) {
        canvas.toBlob(function (blob) {
          if (blob) resolve(URL.createObjectURL(blob)); else reject(new Error("no preview"));
        }, "image/jpeg", 0.8);
      });
    });
  }

  /* ---- cards -------------------------------------------------------------------------------- */
  function part(item, cls) { return item.el.querySelector("." + cls); }
  function action(item, name) { return item.el.querySelector('[data-action="' + name + '"]'); }

  function newCard(name) {
    var el = template.content.firstElementChild.cloneNode(true);
    var item = { local: ++seq, name: name || gettext("Photo"), state: "queued", el: el, photo: null, file: null, key: null, xhr: null, error: null };
    el.dataset.local = String(item.local);
    part(item, "photo-card__name").textContent = item.name;
    part(item, "photo-card__name").title = item.name;
    el.querySelector("progress").setAttribute("aria-label", interpolate(gettext("Upload progress for %(name)s"), { name: item.name }, true));
    action(item, "retry").setAttribute("aria-label", interpolate(gettext("Retry %(name)s"), { name: item.name }, true));
    action(item, "retake").setAttribute("aria-label", interpolate(gettext("Retake %(name)s"), { name: item.name }, true));
    action(item, "remove").setAttribute("aria-label", interpolate(gettext("Remove %(name)s"), { name: item.name }, true));
    action(item, "retry").addEventListener("click", function () { retry(item); });
    action(item, "retake").addEventListener("click", function () { retake(item); });
    action(item, "remove").addEventListener("click", function () { remove(item); });
    items.push(item);
    list.appendChild(el);
    return item;
  }

  function setThumb(item, src, alt) {
    var img = part(item, "photo-card__img");
    img.src = src;
    img.alt = alt;
    img.hidden = false;
    part(item, "photo-card__noimg").hidden = true;
  }

  function setProgress(item, pct) {
    item.el.querySelector("progress").value = pct;
    part(item, "photo-card__percent").textContent = pct + "%";
  }

  function setState(item, state, statusText) {
    item.state = state;
    item.el.dataset.state = state;
    part(item, "photo-card__status").textContent = statusText;
    var retryable = state === "failed" && item.file && !(item.error && PERMANENT.indexOf(item.error.code) >= 0);
    action(item, "retry").hidden = !retryable;
    action(item, "remove").hidden = state === "uploading" || state === "removing";
    action(item, "retake").hidden = !(state === "done" && item.photo && item.photo.quality_warnings.length);
    if (state !== "failed") {
      part(item, "photo-card__error").hidden = true;
      part(item, "photo-card__error").textContent = "";
    }
    refresh();
  }

  function showWarnings(item, warnings) {
    var ul = part(item, "photo-card__warnings");
    ul.textContent = "";
    warnings.forEach(function (w) {
      var li = document.createElement("li");
      li.dataset.code = w.code;
      li.textContent = "⚠ " + w.message;
      ul.appendChild(li);
    });
    ul.hidden = warnings.length === 0;
    item.el.classList.toggle("photo-card--warned", warnings.length > 0);
  }

  function meta(item) {
    var bits = [];
    var size = item.photo ? item.photo.size_bytes : (item.file ? item.file.size : null);
    if (size !== null) bits.push(CV.formatBytes(size));
    if (item.photo) bits.push(item.photo.width + " × " + item.photo.height);
    part(item, "photo-card__meta").textContent = bits.join(" · ");
  }

  /* ---- state summary: count, continue button ------------------------------------------------ */
  function refresh() {
    var done = items.filter(function (i) { return i.state === "done"; }).length;
    var busy = items.filter(function (i) { return i.state === "queued" || i.state === "uploading" || i.state === "removing"; }).length;
    countEl.textContent = interpolate(gettext("%(done)s of %(max_photos)s photos added"), { done: done, max_photos: maxPhotos }, true);
    var ready = done > 0 && busy === 0;
    continueLink.setAttribute("aria-disabled", ready ? "false" : "true");
    if (busy) continueHint.textContent = gettext("Wait until every photo has finished uploading.");
    else if (!done) continueHint.textContent = gettext("Add at least one photo to continue.");
    else continueHint.textContent = interpolate(ngettext("%(count)s photo ready. Add more, or continue.", "%(count)s photos ready. Add more, or continue.", done), { count: done }, true);
  }

  continueLink.addEventListener("click", function (ev) {
    if (continueLink.getAttribute("aria-disabled") === "true") {
      ev.preventDefault();
      alertSay(continueHint.textContent);
    }
  });

  window.addEventListener("beforeunload", function (ev) {
    if (items.some(function (i) { return i.state === "uploading" || i.state === "queued"; })) {
      ev.preventDefault();
      ev.returnValue = "";
    }
  });

  /* ---- adding and uploading ----------------------------------------------------------------- */
  function addFile(file) {
    var item = newCard(file.name);
    item.file = file;
    item.key = CV.uuid();
    meta(item);
    setProgress(item, 0);
    // Previews one at a time: decoding several 12 MP photos at once can exhaust a phone's memory.
    previewChain = previewChain.then(function () {
      if (item.state === "removed") return null;
      return makePreview(file).then(function (url) {
        item.previewUrl = url;
        setThumb(item, url, interpolate(gettext("Preview of %(name)s"), { name: item.name }, true));
      }, function () { /* not an image the browser can show; the server will say what it is */ });
    });
    if (file.size > maxBytes) {
      fail(item, new CV.ApiError(413, "file_too_large", interpolate(gettext("The photo is larger than %(max_mb)s MB. Send a smaller photo."), { max_mb: maxMb }, true), {}));
      return;
    }
    setState(item, "queued", gettext("Waiting to upload…"));
  }

  function pump() {
    var running = items.filter(function (i) { return i.state === "uploading"; }).length;
    items.forEach(function (item) {
      if (running < PARALLEL && item.state === "queued") {
        running += 1;
        upload(item);
      }
    });
  }

  function upload(item) {
    setState(item, "uploading", gettext("Uploading…"));
    setProgress(item, 0);
    var xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", uploadUrl);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", CV.csrfToken());
    xhr.setRequestHeader("Idempotency-Key", item.key);
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable || item.state !== "uploading") return;
      var pct = Math.round((e.loaded / e.total) * 100);
      // 100 % is shown once the server has stored the photo; until then the bar waits at 99.
      setProgress(item, Math.min(pct, 99));
      part(item, "photo-card__status").textContent = pct >= 100 ? gettext("Checking the photo…") : gettext("Uploading…");
    });
    xhr.addEventListener("load", function () {
      item.xhr = null;
      var body = CV.parseJson(xhr.responseText);
      if (xhr.status === 201 || xhr.status === 200) uploaded(item, body);
      else fail(item, CV.errorFrom(xhr.status, body));
      pump();
    });
    xhr.addEventListener("error", function () { item.xhr = null; fail(item, CV.errorFrom(0, null)); pump(); });
    xhr.addEventListener("abort", function () { item.xhr = null; });
    var form = new FormData();
    form.append("image", item.file, item.file.name);  // the original bytes, never the preview
    xhr.send(form);
  }

  function uploaded(item, photo) {
    item.photo = photo;
    item.error = null;
    setProgress(item, 100);
    meta(item);
    var warnings = photo.quality_warnings || [];
    showWarnings(item, warnings);
    setState(item, "done", warnings.length ? gettext("Uploaded, but check this photo:") : gettext("Uploaded"));
    say(interpolate(gettext("%(name)s uploaded."), { name: item.name }, true) + (warnings.length ? " " + warnings.map(function (w) { return w.message; }).join(" ") : ""));
  }

  function fail(item, err) {
    item.error = err;
    var box = part(item, "photo-card__error");
    setState(item, "failed", gettext("Not uploaded"));
    box.textContent = err.message;
    box.hidden = false;
    alertSay(interpolate(gettext("%(name)s was not uploaded. %(message)s"), { name: item.name, message: err.message }, true));
  }

  function retry(item) {
    if (item.state !== "failed" || !item.file) return;
    setState(item, "queued", gettext("Waiting to upload…"));
    say(interpolate(gettext("Retrying %(name)s."), { name: item.name }, true));
    action(item, "remove").focus();
    pump();
  }

  function retake(item) {
    replaceTarget = item;
    retakeArmed = true;
    camera.click();  // must run inside the tap's user activation, before anything asynchronous
    retakeArmed = false;
  }

  function forget(item) {
    var index = items.indexOf(item);
    var next = items[index + 1] || items[index - 1] || null;
    items.splice(index, 1);
    item.state = "removed";
    if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
    item.el.remove();
    refresh();
    return next;
  }

  function focusAfterRemoval(next) {
    var target = next && [action(next, "remove"), action(next, "retry")].filter(function (b) { return !b.hidden; })[0];
    (target || camera).focus();
  }

  function remove(item, options) {
    options = options || {};
    if (item.state === "uploading" || item.state === "removing") return;
    if (!item.photo) {
      focusAfterRemoval(forget(item));
      say(interpolate(gettext("%(name)s removed."), { name: item.name }, true));
      return;
    }
    var previous = item.state;
    setState(item, "removing", gettext("Removing…"));
    CV.api(photoUrlTemplate.replace(CV.ZERO_UUID, item.photo.id), { method: "DELETE" }).then(function () {
      var next = forget(item);
      if (!options.quiet) focusAfterRemoval(next);
      say(interpolate(gettext("%(name)s removed."), { name: item.name }, true));
    }, function (err) {
      if (err.status === 404) {  // already gone on the server: the card just catches up
        var next = forget(item);
        if (!options.quiet) focusAfterRemoval(next);
        return;
      }
      setState(item, previous, previous === "done" ? gettext("Uploaded") : "");
      var box = part(item, "photo-card__error");
      box.textContent = interpolate(gettext("Could not remove the photo. %(message)s"), { message: err.message }, true);
      box.hidden = false;
      alertSay(box.textContent);
    });
  }

  function onChosen(input) {
    var files = Array.prototype.slice.call(input.files || []);
    input.value = "";  // the same photo can be chosen again later
    if (!files.length) return;
    if (replaceTarget) {
      var old = replaceTarget;
      replaceTarget = null;
      remove(old, { quiet: true });
    }
    files.forEach(addFile);
    say(interpolate(ngettext("%(count)s photo added. Uploading.", "%(count)s photos added. Uploading.", files.length), { count: files.length }, true));
    pump();
  }

  [camera, library].forEach(function (input) {
    input.addEventListener("click", function () { if (!retakeArmed) replaceTarget = null; });
    input.addEventListener("change", function () { onChosen(input); });
    input.addEventListener("cancel", function () { replaceTarget = null; });
  });

  /* ---- photos already on the claim (page reload, coming back from review) ------------------ */
  var claim = JSON.parse(document.getElementById("claim-data").textContent);
  claim.photos.forEach(function (photo) {
    var item = newCard(photo.original_name || gettext("Photo"));
    item.photo = photo;
    setThumb(item, photo.image_url, photo.original_name ? interpolate(gettext("Photo: %(name)s"), { name: photo.original_name }, true) : gettext("Photo"));
    part(item, "photo-card__progress").hidden = true;
    meta(item);
    showWarnings(item, photo.quality_warnings || []);
    setState(item, "done", (photo.quality_warnings || []).length ? gettext("Uploaded, but check this photo:") : gettext("Uploaded"));
  });
  refresh();
})();
