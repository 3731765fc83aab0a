// Shared by the reader page and the editors' desk: the API client and small DOM helpers.
// Every string from the API goes in as text; only the server's highlight HTML (already escaped,
// with <mark> around matches) is inserted as HTML, by the callers that say so.

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const NETWORK_MESSAGE = "Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.";

// Fetches JSON from the app's own API; throws ApiError with the server's message on 4xx/5xx.
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(NETWORK_MESSAGE, 0, "network");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error;
    const message = error && typeof error.message === "string" ? error.message : `Lỗi máy chủ (${response.status}).`;
    throw new ApiError(message, response.status, error && error.code);
  }
  if (data === null) throw new ApiError("Máy chủ trả về dữ liệu không đọc được.", response.status, "bad_json");
  return data;
}

// el("p", {className: "x", text: "..."}, child, ...): builds an element; `text` is textContent.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

// Only http(s) URLs become links: a javascript: or data: URL from the index must never be clickable.
export function safeUrl(url) {
  if (typeof url !== "string") return null;
  const trimmed = url.trim();
  if (!/^https?:\/\//i.test(trimmed)) return null;
  try {
    const parsed = new URL(trimmed);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

// "2024-03-05T08:00:00+07:00" -> "05/03/2024": the date as the newsroom wrote it, in its own zone.
export function formatDate(iso) {
  if (typeof iso !== "string") return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : null;
}

export function formatCount(n) {
  return new Intl.NumberFormat("vi-VN").format(n);
}

// A title element: the server's highlighted HTML when present, else the plain title as text.
export function titleContent(node, hit) {
  const html = hit.highlight && typeof hit.highlight.title === "string" ? hit.highlight.title : "";
  if (html) node.innerHTML = html;
  else node.textContent = hit.title || "(không có tiêu đề)";
  return node;
}

export function debounce(fn, ms) {
  let timer = 0;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

// Copies text with the async Clipboard API, else a hidden textarea and execCommand (plain http,
// older browsers). Returns true when either worked.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused: fall through to the old way.
    }
  }
  const area = el("textarea", { className: "clipboard-helper", readonly: true, "aria-hidden": "true" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export function show(node, visible) {
  node.hidden = !visible;
}
