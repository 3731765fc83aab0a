// An accessible search box with suggestions (the WAI-ARIA combobox pattern with a listbox popup):
// the input keeps focus, aria-activedescendant names the highlighted option, arrows move, Enter
// picks, Escape closes. Requests are debounced and a newer keystroke aborts the older request.
// The API lists completions, then tags, then articles: each run of one kind is a labelled group.
import { debounce, el } from "./common.js";

const DELAY_MS = 150;
const MIN_CHARS = 2;
// "title" is what older servers call an article suggestion that has no id or url.
const KIND_LABEL = { completion: "Gợi ý tìm kiếm", tag: "Thẻ", article: "Bài viết", title: "Bài viết" };

export class Combobox {
  constructor(input, listbox, { fetch, choose }) {
    this.input = input;
    this.listbox = listbox;
    this.fetchItems = fetch;
    this.choose = choose;
    this.items = [];
    this.active = -1;
    this.controller = null;
    this.request = debounce(() => this.load(), DELAY_MS);

    input.addEventListener("input", () => this.request());
    input.addEventListener("keydown", (event) => this.onKey(event));
    input.addEventListener("blur", () => this.close());
    // mousedown, not click: a click would blur the input (closing the list) before it lands.
    listbox.addEventListener("mousedown", (event) => {
      event.preventDefault(); // a click on a group's label must not blur the box either
      const option = event.target.closest("[role=option]");
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  async load() {
    const text = this.input.value.trim();
    if (this.controller) this.controller.abort();
    if (text.length < MIN_CHARS) {
      this.close();
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    try {
      const items = await this.fetchItems(text, controller.signal);
      if (controller.signal.aborted || document.activeElement !== this.input) return;
      this.render(items);
    } catch {
      // Suggestions are a convenience: a failed request just shows none.
      if (!controller.signal.aborted) this.close();
    }
  }

  render(items) {
    this.items = items;
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
    this.listbox.replaceChildren(...groups(items).map(({ kind, first, members }, g) => {
      const labelId = `suggestion-group-${g}`;
      const options = members.map((item, i) => el("li", {
        id: `suggestion-${first + i}`, role: "option", "aria-selected": "false",
        className: `suggestion kind-${kind}`, dataset: { index: String(first + i), kind },
      }, el("span", { className: "suggestion-text", text: item.text })));
      return el("li", { role: "group", "aria-labelledby": labelId, className: `suggestion-group group-${kind}` },
        el("div", { id: labelId, role: "presentation", className: "suggestion-group-label", text: KIND_LABEL[kind] || "Gợi ý" }),
        el("ul", { role: "none", className: "suggestion-options" }, ...options));
    }));
    const open = items.length > 0;
    this.listbox.hidden = !open;
    this.input.setAttribute("aria-expanded", String(open));
  }

  close() {
    this.request.cancel();
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.items = [];
    this.active = -1;
    this.listbox.hidden = true;
    this.listbox.replaceChildren();
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  get isOpen() {
    return !this.listbox.hidden && this.items.length > 0;
  }

  move(step) {
    if (!this.isOpen) return;
    const count = this.items.length;
    // -1 is "back in the text box", so wrapping passes through the user's own text.
    let next = this.active + step;
    if (next < -1) next = count - 1;
    if (next >= count) next = -1;
    this.setActive(next);
  }

  setActive(index) {
    const options = this.listbox.querySelectorAll("[role=option]");
    options.forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
    this.active = index;
    if (index >= 0) {
      this.input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  pick(index) {
    const item = this.items[index];
    if (!item) return;
    this.input.value = item.kind === "tag" ? "" : item.text;
    this.close();
    this.choose(item);
  }

  onKey(event) {
    if (event.isComposing) return; // Vietnamese IMEs (Telex/VNI) compose with the same keys
    switch (event.key) {
      case "ArrowDown":
        if (!this.isOpen) this.load();
        else this.move(1);
        event.preventDefault();
        break;
      case "ArrowUp":
        if (this.isOpen) {
          this.move(-1);
          event.preventDefault();
        }
        break;
      case "Enter":
        if (this.isOpen && this.active >= 0) {
          event.preventDefault();
          this.pick(this.active);
        } else {
          this.close();
        }
        break;
      case "Escape":
        if (this.isOpen) {
          event.preventDefault();
          this.close();
        }
        break;
      case "Tab":
        this.close();
        break;
      default:
        break;
    }
  }
}

// Consecutive items of one kind, in the server's order; `first` is the index of the group's first item.
function groups(items) {
  const out = [];
  items.forEach((item, index) => {
    const kind = Object.hasOwn(KIND_LABEL, item.kind) ? item.kind : "other";
    const last = out[out.length - 1];
    if (last && last.kind === kind) last.members.push(item);
    else out.push({ kind, first: index, members: [item] });
  });
  return out;
}
