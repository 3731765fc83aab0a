// The editors' desk: related stories for a published article (by id or URL) or for a draft.
// The looked-up article's id lives in the URL (/editor?id=...), so a desk view can be shared and
// back/forward move between articles. Drafts are not put in the URL: they can be long and unpublished.
import { ApiError, api, copyText, el, errorParagraphs, fill, formatDate, safeUrl, show } from "./common.js";

const $ = (id) => document.getElementById(id);
const RELATED_LIMIT = 20;
const SLUG_SEARCH_SIZE = 50;

const ui = {
  lookup: $("lookup-form"), ref: $("ref"), draft: $("draft-form"), draftTitle: $("draft-title"), draftBody: $("draft-body"),
  heading: $("related-heading"), status: $("status"), error: $("error"), source: $("source"),
  order: $("order"), related: $("related"), empty: $("related-empty"), copyStatus: $("copy-status"),
};

let items = []; // the related stories as the API ranked them
let inflight = null;

// ------------------------------------------------------------------ looking an article up

const looksLikeUrl = (text) => /^https?:\/\//i.test(text.trim());

// host + path without "www.", trailing "/", query or fragment: what counts as "the same URL".
function urlKey(raw) {
  try {
    const u = new URL(raw.trim());
    return u.hostname.replace(/^www\./i, "").toLowerCase() + u.pathname.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

async function articleById(id, signal) {
  try {
    return await api(`/api/articles/${encodeURIComponent(id)}`, { signal });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      throw new ApiError(`Không có bài nào mang mã «${id}» trong kho tin.`, 404, "not_found", err.detail);
    }
    throw err;
  }
}

// The API has no lookup by URL. Try the ids a news URL usually carries (the last number in its
// path, bare and as "<site>-<number>", which is how the sample corpus names them), then search the
// words of the URL's slug; accept only an article whose own URL is the same.
async function articleByUrl(raw, signal) {
  const key = urlKey(raw);
  if (!key) throw new ApiError("Đường dẫn không hợp lệ.", 400, "bad_url");
  const u = new URL(raw.trim());
  const site = u.hostname.replace(/^www\./i, "").split(".")[0];
  const number = (u.pathname.match(/(\d+)(?!.*\d)/) || [])[1];
  const candidates = number ? [number, `${site}-${number}`] : [];
  for (const id of candidates) {
    try {
      const article = await articleById(id, signal);
      if (urlKey(article.url || "") === key) return article;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
    }
  }
  const last = decodeURIComponent(u.pathname.split("/").filter(Boolean).pop() || "");
  const words = last.replace(/\.[a-z]+$/i, "").replace(/[-_+.]+/g, " ").replace(/\d+/g, " ").trim();
  if (words) {
    const params = new URLSearchParams({ q: words, per_page: String(SLUG_SEARCH_SIZE) });
    const data = await api(`/api/search?${params}`, { signal });
    const hit = (data.hits || []).find((h) => urlKey(h.url || "") === key);
    if (hit) return articleById(hit.id, signal);
  }
  throw new ApiError("Không tìm thấy bài nào có đường dẫn này trong kho tin.", 404, "not_found");
}

// ------------------------------------------------------------------ loading

function begin(message) {
  if (inflight) inflight.abort();
  inflight = new AbortController();
  show(ui.error, false);
  ui.status.textContent = message;
  ui.related.setAttribute("aria-busy", "true");
  return inflight.signal;
}

function finish(signal) {
  if (inflight && inflight.signal === signal) {
    inflight = null;
    ui.related.removeAttribute("aria-busy");
  }
}

// The desk's address: ?id= while it shows (or failed to find) that article, bare for drafts and
// for URLs that led nowhere.
function goTo(id) {
  const url = id === null ? location.pathname : `${location.pathname}?id=${encodeURIComponent(id)}`;
  if (url !== location.pathname + location.search) history.pushState(null, "", url);
}

async function loadArticle(ref, { push }) {
  const id = looksLikeUrl(ref) ? null : ref.trim();
  if (push && id !== null) goTo(id);
  const signal = begin("Đang tra bài…");
  try {
    const article = id === null ? await articleByUrl(ref, signal) : await articleById(id, signal);
    if (push) goTo(article.id);
    renderSource(article);
    ui.status.textContent = "Đang tìm bài liên quan…";
    const data = await api(`/api/articles/${encodeURIComponent(article.id)}/related?limit=${RELATED_LIMIT}`, { signal });
    showRelated(data.related, `«${article.title}»`, "Kho tin chưa có bài nào đủ gần với bài này.");
  } catch (err) {
    if (err.name === "AbortError") return;
    if (push && id === null) goTo(null);
    renderError(err);
  } finally {
    finish(signal);
  }
}

async function loadDraft(title, body) {
  const signal = begin("Đang tìm bài liên quan cho bản nháp…");
  try {
    goTo(null);
    clearDesk();
    const data = await api(`/api/related?limit=${RELATED_LIMIT}`, { method: "POST", body: { title, body }, signal });
    showRelated(data.related, "bản nháp", "Bản nháp càng có nhiều tên riêng và từ khóa cụ thể thì càng dễ tìm được bài liên quan.");
  } catch (err) {
    if (err.name !== "AbortError") renderError(err);
  } finally {
    finish(signal);
  }
}

// Nothing of an earlier lookup may stay beside a new article, an error or an empty desk.
function clearDesk() {
  items = [];
  fill(ui.related);
  fill(ui.source);
  show(ui.source, false);
  show(ui.order, false);
  show(ui.empty, false);
  show(ui.error, false);
}

function renderError(err) {
  clearDesk();
  ui.status.textContent = "";
  fill(ui.error, ...errorParagraphs("Không tìm được", err));
  show(ui.error, true);
}

// ------------------------------------------------------------------ rendering

function metaLine(a) {
  const meta = el("p", { className: "hit-meta" });
  const date = formatDate(a.published);
  if (date) meta.append(el("time", { datetime: a.published, text: date }));
  if (a.category) meta.append(el("span", { className: "chip chip-static", text: a.category }));
  if (a.author) meta.append(el("span", { className: "hit-author", text: a.author }));
  return meta;
}

function renderSource(article) {
  const url = safeUrl(article.url);
  const title = el("h3", { className: "hit-title" });
  if (url) title.append(el("a", { href: url, rel: "noopener noreferrer", text: article.title }));
  else title.textContent = article.title;
  const tags = (article.tags || []).map((t) => el("li", {}, el("span", { className: "chip chip-static", text: t })));
  clearDesk();
  fill(ui.source,
    el("p", { className: "source-label", text: `Bài gốc · mã ${article.id}` }),
    title,
    metaLine(article),
    article.lead ? el("p", { className: "source-lead", text: article.lead }) : null,
    tags.length ? el("ul", { className: "hit-tags", "aria-label": "Thẻ" }, ...tags) : null,
  );
  show(ui.source, true);
}

// `tip` is what to try when nothing is related.
function showRelated(related, what, tip) {
  items = Array.isArray(related) ? related : [];
  ui.status.textContent = items.length ? `${items.length} bài liên quan với ${what}.` : `Không tìm thấy bài liên quan với ${what}.`;
  show(ui.order, items.length > 1);
  renderRelated();
  fill(ui.empty, el("p", { className: "empty-title", text: "Không tìm thấy bài liên quan." }), el("p", { text: tip }));
  show(ui.empty, items.length === 0);
  ui.heading.focus({ preventScroll: true });
  ui.heading.scrollIntoView({ block: "start", behavior: "smooth" });
}

function ordered() {
  const order = ui.order.querySelector("input:checked")?.value;
  if (order !== "newest") return items;
  // Undated stories go last; ties keep the relevance order (sort is stable).
  return [...items].sort((a, b) => (b.published || "").localeCompare(a.published || ""));
}

function reasons(item) {
  const parts = [];
  const group = (label, values, className) => {
    if (!Array.isArray(values) || values.length === 0) return;
    parts.push(el("div", { className: "why-group" },
      el("span", { className: "why-label", text: label }),
      el("ul", { className: "why-list" }, ...values.map((v) => el("li", { className: `chip chip-static ${className}`, text: v })))));
  };
  group("Thẻ chung:", item.shared_tags, "chip-tag");
  // The API says each reason once (a compound stands for its syllables), as the article writes it.
  group("Từ khóa chung:", item.shared_terms, "chip-term");
  if (!parts.length) parts.push(el("p", { className: "why-none", text: "Nội dung gần giống (không có thẻ chung)." }));
  return el("div", { className: "why" }, el("p", { className: "why-heading", text: "Vì sao liên quan" }), ...parts);
}

function renderItem(item) {
  const url = safeUrl(item.url);
  const title = el("h3", { className: "hit-title" });
  if (url) title.append(el("a", { href: url, rel: "noopener noreferrer", text: item.title }));
  else title.textContent = item.title;
  const meta = metaLine(item);
  if (typeof item.score === "number") meta.append(el("span", { className: "score", text: `điểm ${item.score.toLocaleString("vi-VN", { maximumFractionDigits: 2 })}` }));

  const actions = el("div", { className: "actions" });
  if (url) {
    const copy = el("button", { type: "button", className: "btn btn-small copy", text: "Chép đường dẫn", "aria-label": `Chép đường dẫn: ${item.title}` });
    copy.addEventListener("click", () => copyLink(copy, url));
    actions.append(copy);
  }
  const more = el("a", { className: "btn btn-small btn-link", href: `${location.pathname}?id=${encodeURIComponent(item.id)}`, text: "Xem bài liên quan của bài này" });
  more.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    ui.ref.value = item.id;
    loadArticle(item.id, { push: true });
  });
  actions.append(more);
  return el("li", { className: "hit related-item" }, el("article", { className: "hit-body" }, title, meta, reasons(item), actions));
}

function renderRelated() {
  fill(ui.related, ...ordered().map(renderItem));
}

async function copyLink(button, url) {
  const ok = await copyText(url);
  const container = button.parentElement;
  container.querySelector(".copy-fallback")?.remove();
  if (ok) {
    button.textContent = "Đã chép ✓";
    ui.copyStatus.textContent = "Đã chép đường dẫn vào bộ nhớ tạm.";
    setTimeout(() => { button.textContent = "Chép đường dẫn"; }, 2000);
    return;
  }
  // Neither clipboard route worked: hand the URL over selected, ready for Ctrl+C.
  const field = el("input", { type: "text", className: "copy-fallback", readonly: true, value: url, "aria-label": "Đường dẫn để chép" });
  container.append(field);
  field.select();
  ui.copyStatus.textContent = "Không chép tự động được; đường dẫn đã được chọn sẵn, nhấn Ctrl+C để chép.";
}

// ------------------------------------------------------------------ wiring

ui.lookup.addEventListener("submit", (event) => {
  event.preventDefault();
  const ref = ui.ref.value.trim();
  if (ref) loadArticle(ref, { push: true });
});

ui.draft.addEventListener("submit", (event) => {
  event.preventDefault();
  const title = ui.draftTitle.value;
  const body = ui.draftBody.value;
  if (!title.trim() && !body.trim()) {
    goTo(null);
    renderError(new ApiError("Hãy nhập tiêu đề hoặc nội dung bản nháp.", 400, "empty"));
    ui.draftTitle.focus();
    return;
  }
  loadDraft(title, body);
});

ui.order.addEventListener("change", renderRelated);

function fromUrl() {
  const id = new URLSearchParams(location.search).get("id");
  if (id) {
    ui.ref.value = id;
    loadArticle(id, { push: false });
  } else {
    // Back or forward to the bare desk: what an article lookup left there is not this entry's.
    if (inflight) inflight.abort();
    clearDesk();
    ui.status.textContent = "";
  }
}

window.addEventListener("popstate", fromUrl);
fromUrl();
