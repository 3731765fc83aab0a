// The reader's search page. The whole page state lives in the URL (?q=&tag=&category=&from=&to=
// &sort=&page=&per_page=&verbatim=): every change pushes a history entry and re-renders from the
// state, and popstate renders the state of the entry the browser went back or forward to. Typing
// searches as it goes (instant results) on one provisional entry, replaced keystroke after keystroke.
import { ApiError, api, debounce, el, errorParagraphs, fill, formatCount, formatDate, safeUrl, show, titleContent } from "./common.js";
import { Combobox } from "./combobox.js";
import { dropRelatedLoads, relatedToggle } from "./reader-related.js";

const $ = (id) => document.getElementById(id);
const limits = {
  maxPerPage: Number(document.body.dataset.maxPerPage) || 100,
  maxWindow: Number(document.body.dataset.maxResultWindow) || 1000,
};
// Long enough that a word typed at an ordinary pace is one request, short enough to feel instant.
const INSTANT_DELAY_MS = 250;
const DEFAULT_PER_PAGE = 10;
const SORTS = ["relevance", "newest"];
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

const ui = {
  form: $("search-form"), q: $("q"), suggestions: $("suggestions"),
  filterForm: $("filter-form"), filtersPanel: $("filters-panel"), sort: $("sort"), from: $("from"), to: $("to"),
  categoryFacets: $("category-facets"), tagFacets: $("tag-facets"), clearFilters: $("clear-filters"),
  heading: $("results-heading"), status: $("status"), notices: $("notices"), error: $("error"),
  welcome: $("welcome"), empty: $("empty"), hits: $("hits"), pager: $("pager"),
};

// ------------------------------------------------------------------ state <-> URL

function readState(search) {
  const p = new URLSearchParams(search);
  const int = (name, fallback, hi) => {
    const n = Number.parseInt(p.get(name) || "", 10);
    return Number.isFinite(n) && n >= 1 ? Math.min(n, hi) : fallback;
  };
  const date = (name) => (ISO_DATE.test(p.get(name) || "") ? p.get(name) : "");
  const sort = p.get("sort");
  return {
    q: p.get("q") || "",
    tags: [...new Set(p.getAll("tag").filter((t) => t.trim()))],
    category: p.get("category") || "",
    from: date("from"),
    to: date("to"),
    sort: SORTS.includes(sort) ? sort : "relevance",
    page: int("page", 1, limits.maxWindow),
    perPage: int("per_page", DEFAULT_PER_PAGE, limits.maxPerPage),
    // Search exactly as typed: no accent restoration, Telex decoding or splitting of joined words.
    verbatim: p.get("verbatim") === "1",
  };
}

// Query parameters for the state; defaults are left out so shared URLs stay short.
function toParams(state) {
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  for (const tag of state.tags) p.append("tag", tag);
  if (state.category) p.set("category", state.category);
  if (state.from) p.set("from", state.from);
  if (state.to) p.set("to", state.to);
  if (state.sort !== "relevance") p.set("sort", state.sort);
  if (state.page > 1) p.set("page", String(state.page));
  if (state.perPage !== DEFAULT_PER_PAGE) p.set("per_page", String(state.perPage));
  if (state.verbatim && state.q) p.set("verbatim", "1");
  return p;
}

function pageUrl(state) {
  const query = toParams(state).toString();
  return location.pathname + (query ? `?${query}` : "");
}

const hasFilters = (s) => s.tags.length > 0 || Boolean(s.category || s.from || s.to);
const isSearch = (s) => Boolean(s.q.trim()) || hasFilters(s);

let state = readState(location.search);

// A new query is read as the reader meant it again; the same query keeps "exactly as typed".
const withQuery = (q) => ({ ...state, q, page: 1, verbatim: state.verbatim && q === state.q });

function navigate(next, { focusResults = false } = {}) {
  instant.cancel();
  state = next;
  history.pushState(null, "", pageUrl(state));
  syncForm();
  return run({ focusResults });
}

window.addEventListener("popstate", () => {
  instant.cancel();
  state = readState(location.search);
  syncForm();
  run();
});

// Results while typing. The first keystroke after a committed search pushes one provisional entry
// and later keystrokes replace it, so the URL follows the box and Back returns to the previous
// search, not to every prefix typed on the way. The box itself is left alone: rewriting it with the
// trimmed query would eat the space just typed between two words.
const PROVISIONAL = { typing: true };
const isProvisional = () => history.state?.typing === true;

const instant = debounce(() => {
  const q = ui.q.value.trim();
  if (q === state.q) return;
  state = withQuery(q);
  const url = pageUrl(state);
  if (isProvisional()) history.replaceState(PROVISIONAL, "", url);
  else history.pushState(PROVISIONAL, "", url);
  syncTitle();
  run();
}, INSTANT_DELAY_MS);

ui.q.addEventListener("input", (event) => {
  if (!event.isComposing) instant();
});
// An IME (Telex/VNI) sends its input events while composing; search once the word is composed.
ui.q.addEventListener("compositionend", () => instant());

function syncForm() {
  ui.q.value = state.q;
  syncTitle();
  ui.sort.value = state.sort;
  ui.from.value = state.from;
  ui.to.value = state.to;
  // The browser's picker then refuses a reversed range.
  ui.from.max = state.to;
  ui.to.min = state.from;
}

function syncTitle() {
  document.title = state.q ? `${state.q} – Tìm kiếm tin tức` : "Tìm kiếm tin tức";
}

// ------------------------------------------------------------------ searching

let inflight = null;

async function run({ focusResults = false } = {}) {
  if (inflight) inflight.abort();
  if (!isSearch(state)) {
    renderIdle();
    return;
  }
  if (state.from && state.to && state.from > state.to) {
    renderError(new ApiError(`Ngày bắt đầu (${formatDate(state.from)}) sau ngày kết thúc (${formatDate(state.to)}).`, 400, "dates"));
    return;
  }
  const controller = new AbortController();
  inflight = controller;
  const params = toParams(state);
  params.set("page", String(state.page));
  params.set("per_page", String(state.perPage));
  ui.hits.setAttribute("aria-busy", "true");
  ui.status.textContent = "Đang tìm…";
  try {
    const data = await api(`/api/search?${params}`, { signal: controller.signal });
    // An answer that arrives after a newer search started is for a query no longer in the box.
    if (inflight !== controller) return;
    renderResults(data);
  } catch (err) {
    if (err.name === "AbortError" || inflight !== controller) return;
    renderError(err);
  } finally {
    if (inflight === controller) {
      inflight = null;
      ui.hits.removeAttribute("aria-busy");
    }
  }
  if (focusResults) {
    ui.heading.focus({ preventScroll: true });
    ui.heading.scrollIntoView({ block: "start" });
  }
}

function clearResults() {
  dropRelatedLoads();
  fill(ui.hits);
  fill(ui.notices);
  fill(ui.pager);
  show(ui.pager, false);
  show(ui.error, false);
  show(ui.empty, false);
}

function renderIdle() {
  clearResults();
  renderFacets({ category: [], tags: [] });
  ui.status.textContent = "";
  show(ui.welcome, true);
}

function renderError(err) {
  clearResults();
  renderFacets({ category: [], tags: [] });
  show(ui.welcome, false);
  ui.status.textContent = "Tìm kiếm không thành công.";
  const retry = el("button", { type: "button", className: "btn", text: "Thử lại" });
  retry.addEventListener("click", () => run());
  fill(ui.error, ...errorParagraphs("Không tìm được kết quả", err), retry);
  show(ui.error, true);
}

function renderResults(data) {
  clearResults();
  show(ui.welcome, false);
  const total = Number(data.total) || 0;
  const lastPage = lastPageFor(total);
  ui.status.textContent = statusText(data, total, lastPage);
  renderNotices(data, total);
  renderFacets(data.facets || {});
  if (total === 0 || !Array.isArray(data.hits) || data.hits.length === 0) {
    renderEmpty(total);
    return;
  }
  ui.hits.start = (state.page - 1) * state.perPage + 1;
  fill(ui.hits, ...data.hits.map(renderHit));
  renderPager(lastPage);
}

function lastPageFor(total) {
  const pages = Math.ceil(total / state.perPage);
  return Math.max(1, Math.min(pages, Math.floor(limits.maxWindow / state.perPage)));
}

function statusText(data, total, lastPage) {
  if (total === 0) return "Không tìm thấy kết quả nào.";
  const subject = state.q.trim() ? ` cho «${state.q.trim()}»` : "";
  const pages = lastPage > 1 ? ` · trang ${state.page}/${lastPage}` : "";
  const seconds = typeof data.took_ms === "number" ? ` (${(data.took_ms / 1000).toLocaleString("vi-VN", { maximumFractionDigits: 2 })} giây)` : "";
  return `Tìm thấy ${formatCount(total)} kết quả${subject}${pages}${seconds}`;
}

// A link to another state of the page that a plain click follows without reloading it.
function stateLink(next, props) {
  const link = el("a", { href: pageUrl(next), ...props });
  link.addEventListener("click", (event) => {
    if (!plainClick(event)) return;
    event.preventDefault();
    navigate(next, { focusResults: true });
  });
  return link;
}

const trimmed = (value) => (typeof value === "string" ? value.trim() : "");
const sameReading = (a, b) => a.normalize("NFC").toLowerCase() === b.normalize("NFC").toLowerCase();

function renderNotices(data, total) {
  const notices = [];
  const typed = state.q.trim();
  const reading = trimmed(data.interpreted_as);
  if (reading && !state.verbatim && !sameReading(reading, typed)) {
    // Like a web search engine's "showing results for": what we searched, and the way back to what was typed.
    const asTyped = stateLink({ ...state, verbatim: true, page: 1 }, { className: "verbatim-link", text: typed });
    notices.push(el("p", { className: "notice interpreted" },
      "Kết quả cho ", el("b", { className: "interpreted-as", text: reading }), " · Tìm đúng như đã gõ: ", asTyped));
  } else if (state.verbatim && typed) {
    const restored = stateLink({ ...state, verbatim: false, page: 1 }, { className: "verbatim-link", text: "tìm cả khi thiếu dấu" });
    notices.push(el("p", { className: "notice interpreted" },
      "Kết quả đúng như đã gõ: ", el("b", { text: typed }), " · ", restored));
  }
  const suggestion = trimmed(data.did_you_mean);
  if (suggestion && !(reading && sameReading(suggestion, reading))) {
    const link = stateLink({ ...state, q: suggestion, page: 1, verbatim: false }, { className: "dym-link", text: suggestion });
    notices.push(el("p", { className: "notice dym" }, "Có phải bạn muốn tìm: ", link, "?"));
  }
  const partial = partialMatchText(data, total);
  if (partial) notices.push(el("p", { className: "notice", text: partial }));
  if (data.partial) {
    notices.push(el("p", { className: "notice", text: "Tìm kiếm mất quá nhiều thời gian nên kết quả có thể chưa đầy đủ." }));
  }
  fill(ui.notices, ...notices);
}

// The results that hold every word of the query come first (all_words_total of them); the ones
// after hold only some of the words. A question has no such tiers (all_words_total is null): it is
// ranked over all its words, so all the page can say is that some results may lack some.
function partialMatchText(data, total) {
  if (total === 0 || data.all_words_matched !== false) return null;
  const every = data.all_words_total;
  if (!Number.isInteger(every)) return "Kết quả được xếp theo mức liên quan với mọi từ khóa; có thể có bài chỉ chứa một phần từ khóa.";
  if (every <= 0) return "Không có bài nào chứa đủ mọi từ khóa; dưới đây là các bài chứa nhiều từ khóa nhất.";
  if (every >= total) return null;
  const first = every === 1 ? "Bài đầu tiên" : `${formatCount(every)} bài đầu tiên`;
  return `${first} chứa đủ mọi từ khóa; các bài từ thứ ${formatCount(every + 1)} trở đi chỉ chứa một phần từ khóa.`;
}

function renderEmpty() {
  const tips = [
    el("li", { text: "Kiểm tra lại chính tả, hoặc gõ không dấu." }),
    el("li", { text: "Dùng ít từ hơn hoặc từ khóa chung hơn." }),
  ];
  const children = [el("p", { className: "empty-title", text: "Không có bài nào khớp với tìm kiếm này." }), el("ul", {}, ...tips)];
  if (hasFilters(state)) {
    tips.push(el("li", { text: "Bỏ bớt bộ lọc chuyên mục, thẻ hoặc thời gian." }));
    const clear = el("button", { type: "button", className: "btn", text: "Bỏ mọi bộ lọc" });
    clear.addEventListener("click", clearFilters);
    children.push(clear);
  }
  fill(ui.empty, ...children);
  show(ui.empty, true);
}

function renderHit(hit) {
  const url = safeUrl(hit.url);
  const title = el("h2", { className: "hit-title" });
  if (url) title.append(titleContent(el("a", { href: url, rel: "noopener noreferrer" }), hit));
  else titleContent(title, hit);

  const meta = el("p", { className: "hit-meta" });
  const date = formatDate(hit.published);
  if (date) meta.append(el("time", { datetime: hit.published, text: date }));
  if (hit.category) {
    const cat = el("button", { type: "button", className: "chip chip-category", text: hit.category, title: `Lọc theo chuyên mục ${hit.category}` });
    cat.addEventListener("click", () => navigate({ ...state, category: hit.category, page: 1 }, { focusResults: true }));
    meta.append(cat);
  }
  if (hit.author) meta.append(el("span", { className: "hit-author", text: hit.author }));
  if (hit.source) meta.append(el("span", { className: "hit-source", text: hit.source }));

  const snippet = el("p", { className: "hit-snippet" });
  if (hit.highlight && typeof hit.highlight.snippet === "string") snippet.innerHTML = hit.highlight.snippet;

  const tags = el("ul", { className: "hit-tags", "aria-label": "Thẻ" });
  for (const tag of Array.isArray(hit.tags) ? hit.tags : []) {
    const button = el("button", { type: "button", className: "chip", text: tag, title: `Lọc theo thẻ ${tag}` });
    button.addEventListener("click", () => addTag(tag));
    tags.append(el("li", {}, button));
  }
  return el("li", { className: "hit" },
    el("article", { className: "hit-body" }, title, meta, snippet.textContent ? snippet : null,
      tags.childElementCount ? tags : null, ...relatedToggle(hit)));
}

function addTag(tag) {
  if (state.tags.includes(tag)) return;
  navigate({ ...state, tags: [...state.tags, tag], page: 1 }, { focusResults: true });
}

// ------------------------------------------------------------------ facets

function facetValues(list) {
  return Array.isArray(list) ? list.filter((f) => f && typeof f.value === "string" && f.value) : [];
}

function facetOption({ type, name, value, label, count, checked }) {
  const id = `f-${name}-${facetOption.n++}`;
  const input = el("input", { type, id, name, value, checked });
  const text = el("span", { className: "facet-value", text: label });
  const n = count === undefined ? null : el("span", { className: "facet-count", text: formatCount(count) });
  return el("li", {}, el("label", { for: id, className: "facet" }, input, text, n));
}
facetOption.n = 0;

function renderFacets(facets) {
  const categories = facetValues(facets.category);
  if (state.category && !categories.some((f) => f.value === state.category)) {
    categories.unshift({ value: state.category, count: undefined });
  }
  const categoryItems = categories.map((f) =>
    facetOption({ type: "radio", name: "category", value: f.value, label: f.value, count: f.count, checked: f.value === state.category }));
  if (categoryItems.length) {
    categoryItems.unshift(facetOption({ type: "radio", name: "category", value: "", label: "Tất cả", checked: !state.category }));
  }
  fill(ui.categoryFacets, ...categoryItems);
  show(ui.categoryFacets.parentElement, categoryItems.length > 0);

  // Chosen tags stay listed (and ticked) even when the facet no longer counts them, so they can be untied.
  const tags = facetValues(facets.tags);
  const counted = new Map(tags.map((f) => [f.value, f.count]));
  const chosen = state.tags.map((t) => ({ value: t, count: counted.get(t) }));
  const others = tags.filter((f) => !state.tags.includes(f.value));
  const tagItems = [...chosen, ...others].map((f) =>
    facetOption({ type: "checkbox", name: "tag", value: f.value, label: f.value, count: f.count, checked: state.tags.includes(f.value) }));
  fill(ui.tagFacets, ...tagItems);
  show(ui.tagFacets.parentElement, tagItems.length > 0);
  show(ui.clearFilters, hasFilters(state));
}

ui.filterForm.addEventListener("submit", (event) => event.preventDefault());
ui.filterForm.addEventListener("change", (event) => {
  const target = event.target;
  const next = { ...state, page: 1 };
  if (target.name === "category") next.category = target.value;
  else if (target.name === "tag") {
    next.tags = target.checked ? [...state.tags, target.value] : state.tags.filter((t) => t !== target.value);
  } else if (target.name === "sort") next.sort = SORTS.includes(target.value) ? target.value : "relevance";
  else if (target.name === "from" || target.name === "to") {
    // A half-typed date is "" to the browser; wait until it is whole or cleared.
    if (target.value && !ISO_DATE.test(target.value)) return;
    next[target.name] = target.value;
  } else return;
  navigate(next);
});

function clearFilters() {
  navigate({ ...state, tags: [], category: "", from: "", to: "", page: 1 });
}
ui.clearFilters.addEventListener("click", clearFilters);

// ------------------------------------------------------------------ pagination

function plainClick(event) {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
}

function pageLink(page, text, label, current = false) {
  const link = el("a", { href: pageUrl({ ...state, page }), className: "page-link", text, "aria-label": label });
  if (current) link.setAttribute("aria-current", "page");
  link.addEventListener("click", (event) => {
    if (!plainClick(event)) return;
    event.preventDefault();
    navigate({ ...state, page }, { focusResults: true });
  });
  return link;
}

// 1 … p-1 p p+1 … last: every page reachable in two steps, and short enough for a phone.
function pageNumbers(current, last) {
  const wanted = new Set([1, last, current - 1, current, current + 1].filter((n) => n >= 1 && n <= last));
  const sorted = [...wanted].sort((a, b) => a - b);
  const out = [];
  sorted.forEach((n, i) => {
    if (i > 0 && n - sorted[i - 1] > 1) out.push(null);
    out.push(n);
  });
  return out;
}

function renderPager(last) {
  if (last <= 1) return;
  const items = [];
  const page = Math.min(state.page, last);
  if (page > 1) items.push(pageLink(page - 1, "‹ Trước", "Trang trước"));
  for (const n of pageNumbers(page, last)) {
    items.push(n === null ? el("span", { className: "page-gap", text: "…", "aria-hidden": "true" })
      : pageLink(n, String(n), `Trang ${n}`, n === page));
  }
  if (page < last) items.push(pageLink(page + 1, "Sau ›", "Trang sau"));
  fill(ui.pager, el("ul", { className: "pager-list" }, ...items.map((item) => el("li", {}, item))));
  show(ui.pager, true);
}

// ------------------------------------------------------------------ the search box

// An entry of the current history that typing made is made the search itself, not stacked on.
function commit(next) {
  if (!isProvisional()) return navigate(next);
  instant.cancel();
  state = next;
  history.replaceState(null, "", pageUrl(state));
  syncForm();
  return run();
}

const combobox = new Combobox(ui.q, ui.suggestions, {
  fetch: async (q, signal) => {
    const data = await api(`/api/suggest?q=${encodeURIComponent(q)}`, { signal });
    return (Array.isArray(data.suggestions) ? data.suggestions : []).filter((s) => s && typeof s.text === "string" && s.text);
  },
  choose: (item) => {
    if (item.kind === "tag") {
      const tags = state.tags.includes(item.text) ? state.tags : [...state.tags, item.text];
      commit({ ...state, q: "", tags, page: 1, verbatim: false });
      return;
    }
    // An article opens as a result's title does: its own page, in this tab.
    const url = item.kind === "article" ? safeUrl(item.url) : null;
    if (url) {
      instant.cancel();
      location.assign(url);
      return;
    }
    // A completion (or an article with no page to open) is searched for.
    commit({ ...state, q: item.text, page: 1, verbatim: false });
  },
});

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  combobox.close();
  commit(withQuery(ui.q.value.trim()));
});

// Collapsed on a phone so results come first; open on a wide screen.
if (window.matchMedia("(max-width: 760px)").matches && !hasFilters(state)) ui.filtersPanel.open = false;

syncForm();
run();
