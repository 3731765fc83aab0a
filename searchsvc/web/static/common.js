// Shared by the reader page and the editors' desk: the API client and small DOM helpers.
// Every string from the API goes in as text; only the server's highlight HTML (already escaped,
// with <mark> around matches) is inserted as HTML, by the callers that say so.

// `message` is always a Vietnamese sentence for the reader; `detail` is the server's own (English)
// message, shown beneath it for whoever reports the problem.
export class ApiError extends Error {
  constructor(message, status, code, detail = "") {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

// How long a page waits for an answer before saying so; the API's own search time limit is shorter.
export const API_TIMEOUT_MS = 20_000;

// The one place that turns an error code (the API's, or "network" / "timeout" / "bad_json" from here)
// into what the pages say.
const MESSAGES = {
  bad_request: "Yêu cầu không hợp lệ. Hãy kiểm tra lại nội dung đã nhập rồi thử lại.",
  not_found: "Không tìm thấy nội dung được yêu cầu.",
  forbidden: "Bạn không có quyền thực hiện thao tác này.",
  index_unavailable: "Kho tin tạm thời chưa sẵn sàng. Vui lòng thử lại sau ít phút.",
  index_version_mismatch: "Kho tin tạm thời chưa sẵn sàng. Vui lòng thử lại sau ít phút.",
  index_busy: "Kho tin đang bận cập nhật. Vui lòng thử lại sau giây lát.",
  internal_error: "Máy chủ gặp lỗi ngoài dự kiến. Vui lòng thử lại sau.",
  request_entity_too_large: "Nội dung gửi đi quá dài.",
  too_many_requests: "Có quá nhiều yêu cầu cùng lúc. Vui lòng đợi một chút rồi thử lại.",
  network: "Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.",
  timeout: "Máy chủ phản hồi quá lâu. Vui lòng thử lại sau.",
  bad_json: "Máy chủ trả về dữ liệu không đọc được.",
  unexpected: "Đã có lỗi không mong muốn.",
};

// A code this page does not know (a proxy's error page, a newer server) is said by its status.
function messageFor(code, status) {
  if (Object.hasOwn(MESSAGES, code)) return MESSAGES[code];
  if (status === 403) return MESSAGES.forbidden;
  if (status === 404) return MESSAGES.not_found;
  if (status === 408 || status === 504) return MESSAGES.timeout;
  if (status >= 400 && status < 500) return MESSAGES.bad_request;
  return MESSAGES.internal_error;
}

// Fetches JSON from the app's own API; throws ApiError on 4xx/5xx, on no answer and after API_TIMEOUT_MS.
// The caller's signal still aborts with an AbortError, which callers ignore.
export async function api(path, { method = "GET", body, signal } = {}) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, API_TIMEOUT_MS);
  const cancel = () => controller.abort();
  if (signal?.aborted) cancel();
  signal?.addEventListener("abort", cancel);
  const init = { method, signal: controller.signal, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await exchange(path, init);
  } catch (err) {
    if (timedOut) throw new ApiError(MESSAGES.timeout, 0, "timeout");
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", cancel);
  }
}

async function exchange(path, init) {
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(MESSAGES.network, 0, "network");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    if (err.name === "AbortError") throw err;
    data = null;
  }
  if (!response.ok) {
    const error = data && typeof data.error === "object" ? data.error : null;
    const code = error && typeof error.code === "string" ? error.code : "";
    const detail = error && typeof error.message === "string" ? error.message : "";
    throw new ApiError(messageFor(code, response.status), response.status, code, detail);
  }
  if (data === null) throw new ApiError(MESSAGES.bad_json, response.status, "bad_json");
  return data;
}

// The paragraphs of an error box: a title, the Vietnamese message, and the server's words if any.
export function errorParagraphs(title, err) {
  const message = err instanceof ApiError ? err.message : MESSAGES.unexpected;
  const detail = err instanceof ApiError && err.detail && err.detail !== message
    ? el("p", { className: "error-detail" }, "Chi tiết kỹ thuật: ", el("span", { lang: "en", text: err.detail }))
    : null;
  return [el("p", { className: "error-title", text: title }), el("p", { className: "error-message", text: message }), detail];
}

// null, undefined and false stand for "nothing here" in a list of children; the DOM's own append
// and replaceChildren would write them out as the text "null" / "undefined" / "false".
const present = (child) => child !== null && child !== undefined && child !== false;

// el("p", {className: "x", text: "..."}, child, ...): builds an element; `text` is textContent.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (!present(value)) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter(present));
  return node;
}

// Replaces a node's children, skipping absent ones as el does: the pages use this, never replaceChildren.
export function fill(node, ...children) {
  node.replaceChildren(...children.filter(present));
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
