/* Shared helpers for the customer pages: CSRF, idempotency keys, the API's error shape and
 * screen-reader announcements. Plain browser JavaScript, no build step. */
(function () {
  "use strict";

  /* Strings come through Django's JavaScript catalog (/i18n/catalog.js, loaded first by the
     base template). A page without it (or a catalog that failed to load) reads English. */
  if (typeof window.gettext !== "function") {
    window.gettext = function (s) { return s; };
    window.ngettext = function (one, many, n) { return n === 1 ? one : many; };
    window.pgettext = function (context, s) { return s; };
    window.interpolate = function (fmt, obj, named) {
      if (named) return fmt.replace(/%\(\w+\)s/g, function (m) { return String(obj[m.slice(2, -2)]); });
      return fmt.replace(/%s/g, function () { return String(obj.shift()); });
    };
  }

  var MESSAGES = {
    network: gettext("No connection to ClaimVision. Check your network and try again."),
    session: gettext("Your session has ended. Sign in again to continue."),
    throttled: gettext("Too many requests in a short time. Wait a moment and try again."),
    server: gettext("Something went wrong on our side. Try again in a moment."),
    tooLarge: gettext("The file is too large."),
    other: gettext("The request could not be completed.")
  };

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return "";
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return cookie("csrftoken") || (field ? field.value : "");
  }

  // crypto.randomUUID needs a secure context; a phone on the LAN over plain http is not one.
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function" && window.isSecureContext) {
      return window.crypto.randomUUID();
    }
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function ApiError(status, code, message, details) {
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.message = message;
    this.details = details || {};
  }
  ApiError.prototype = Object.create(Error.prototype);

  function fallbackMessage(status) {
    if (status === 0) return MESSAGES.network;
    if (status === 401 || status === 403) return MESSAGES.session;
    if (status === 413) return MESSAGES.tooLarge;
    if (status === 429) return MESSAGES.throttled;
    if (status >= 500) return MESSAGES.server;
    return MESSAGES.other;
  }

  /* The API's one error shape is {"error": {"code", "message", "details"}}. */
  function errorFrom(status, body) {
    var e = body && body.error;
    if (e && e.message) return new ApiError(status, e.code || "error", e.message, e.details);
    return new ApiError(status, status === 0 ? "network_error" : "http_" + status, fallbackMessage(status), {});
  }

  function parseJson(text) {
    if (!text) return null;
    try { return JSON.parse(text); } catch (err) { return null; }
  }

  function api(url, options) {
    options = options || {};
    var headers = { "Accept": "application/json", "X-CSRFToken": csrfToken() };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
    return fetch(url, {
      method: options.method || "GET",
      headers: headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = parseJson(text);
        if (!res.ok) throw errorFrom(res.status, data);
        return data;
      });
    }, function () {
      throw errorFrom(0, null);
    });
  }

  /* Put text into an aria-live region; clearing first makes a repeated message heard again. */
  function announce(regionId, text) {
    var region = document.getElementById(regionId);
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 60);
  }

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return Math.round(n / 1024) + " KB";
    return (n / (1024 * 1024)).toFixed(1) + " MB";
  }

  window.CV = {
    api: api,
    ApiError: ApiError,
    announce: announce,
    csrfToken: csrfToken,
    errorFrom: errorFrom,
    formatBytes: formatBytes,
    messages: MESSAGES,
    parseJson: parseJson,
    uuid: uuid,
    ZERO_UUID: "00000000-0000-0000-0000-000000000000"
  };
})();
