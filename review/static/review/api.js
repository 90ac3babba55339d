/* The review API from the browser: CSRF, JSON, and the project's one error shape
 * {"error": {"code", "message", "details"}} turned into ApiError. */

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

const FALLBACK = {
  0: "No connection to ClaimVision. Check your network and try again.",
  401: "Your session has ended. Sign in again to continue.",
  403: "You do not have access to this. Sign in as an adjuster.",
  404: "Not found. It may have been removed.",
  429: "Too many requests in a short time. Wait a moment and try again.",
  500: "Something went wrong on our side. Try again in a moment.",
};

function cookie(name) {
  for (const part of document.cookie ? document.cookie.split("; ") : []) {
    const eq = part.indexOf("=");
    if (part.slice(0, eq) === name) return decodeURIComponent(part.slice(eq + 1));
  }
  return "";
}

export function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  return cookie("csrftoken") || (field ? field.value : "");
}

function errorFrom(status, body) {
  const e = body && body.error;
  if (e && e.message) return new ApiError(status, e.code || "error", e.message, e.details);
  const message = FALLBACK[status] || (status >= 500 ? FALLBACK[500] : "The request could not be completed.");
  return new ApiError(status, status === 0 ? "network_error" : `http_${status}`, message, {});
}

/** fetch JSON; resolves with the parsed body (null for 204), rejects with ApiError. */
export async function api(url, { method = "GET", body, keepalive = false } = {}) {
  const headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      keepalive,
    });
  } catch (err) {
    throw errorFrom(0, null);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (err) { data = null; }
  }
  if (!res.ok) throw errorFrom(res.status, data);
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    // Styles through the CSSOM: a style attribute is refused by the Content-Security-Policy.
    else if (key === "style") for (const [name, v] of Object.entries(value)) node.style.setProperty(name, v);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function timeHM(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function dateTime(iso) {
  return new Date(iso).toLocaleString([], {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
}

export function money(amount, currency) {
  const n = Number(amount);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "EUR" }).format(n);
  } catch (err) {
    return `${n.toFixed(2)} ${currency || ""}`.trim();
  }
}

export function humanize(code) {
  const s = String(code || "").replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}
