// The "Bài liên quan" button under each hit of the reader's page and the list it opens. Each hit has
// its own request: a second hit's list leaves the first alone, and closing or reopening drops the
// answer still on its way.
import { api, el, errorParagraphs, fill, formatDate, safeUrl, show } from "./common.js";
const RELATED_LIMIT = 5;

// The related lists still loading, so a new search can drop them all.
const relatedLoads = new Set();

export function dropRelatedLoads() {
  for (const controller of relatedLoads) controller.abort();
  relatedLoads.clear();
}
let relatedPanels = 0;

export function relatedToggle(hit) {
  const panel = el("div", { id: `related-${++relatedPanels}`, className: "hit-related-panel", hidden: true });
  const button = el("button", {
    type: "button", className: "btn btn-link hit-related", text: "Bài liên quan",
    "aria-expanded": "false", "aria-controls": panel.id,
  });
  let controller = null;
  const stop = () => {
    if (!controller) return;
    controller.abort();
    relatedLoads.delete(controller);
    controller = null;
  };
  const open = async () => {
    stop();
    const mine = new AbortController();
    controller = mine;
    relatedLoads.add(mine);
    panel.setAttribute("aria-busy", "true");
    fill(panel, el("p", { className: "related-note", role: "status", text: "Đang tải bài liên quan…" }));
    try {
      const data = await api(`/api/articles/${encodeURIComponent(hit.id)}/related?limit=${RELATED_LIMIT}`, { signal: mine.signal });
      if (controller !== mine) return;
      renderRelatedList(panel, data.related);
    } catch (err) {
      if (err.name === "AbortError" || controller !== mine) return;
      fill(panel, el("div", { className: "error related-error", role: "alert" }, ...errorParagraphs("Không tải được bài liên quan", err)));
    } finally {
      if (controller === mine) {
        relatedLoads.delete(mine);
        controller = null;
        panel.removeAttribute("aria-busy");
      }
    }
  };
  button.addEventListener("click", () => {
    const expanded = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!expanded));
    show(panel, !expanded);
    if (expanded) {
      stop();
      fill(panel);
      panel.removeAttribute("aria-busy");
    } else {
      open();
    }
  });
  return [button, panel];
}

function renderRelatedList(panel, related) {
  const stories = (Array.isArray(related) ? related : []).filter((r) => r && typeof r.id === "string");
  if (!stories.length) {
    fill(panel, el("p", { className: "related-note", text: "Không tìm thấy bài liên quan." }));
    return;
  }
  fill(panel, el("ul", { className: "related-list", "aria-label": "Bài liên quan" }, ...stories.map(relatedStory)));
}

function relatedStory(story) {
  const url = safeUrl(story.url);
  const text = story.title || "(không có tiêu đề)";
  const title = el("p", { className: "related-title" }, url ? el("a", { href: url, rel: "noopener noreferrer", text }) : text);
  const date = formatDate(story.published);
  const why = relatedReasons(story);
  const meta = date || why ? el("div", { className: "related-meta" }, date ? el("time", { datetime: story.published, text: date }) : null, why) : null;
  return el("li", { className: "related-story" }, title, meta);
}

// Shared tags first (an editor's own word for what a story is about), then the key words the API
// found in both: it says each reason once (a compound stands for its syllables; no tag said again).
function relatedReasons(story) {
  const strings = (list) => (Array.isArray(list) ? list.filter((t) => typeof t === "string" && t) : []);
  const tags = strings(story.shared_tags);
  const words = strings(story.shared_terms);
  const chip = (value, kind, label) => el("li", { className: `chip chip-static ${kind}`, title: label, text: value });
  const chips = [...tags.map((t) => chip(t, "chip-tag", "Thẻ chung")), ...words.map((t) => chip(t, "chip-term", "Từ khóa chung"))];
  if (!chips.length) return null;
  return el("ul", { className: "related-why", "aria-label": "Vì sao liên quan" }, ...chips);
}
