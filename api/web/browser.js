// The layer browser: every filter of a layer job in one grid (its picture, its activation, how
// its start went), sorted without re-fetching, a detail panel per filter and a permalink to it,
// #/layer-jobs/{id}/filters/{n}; with the dataset exemplars of the exemplar job the layer job
// names (its `exemplar_job`). Loaded before app.js, whose page helpers (api, element, fileImage,
// filterFile, metricsText, problemMessage, startNote, startNotes, neverAlive, TERMINAL) it calls.
"use strict";

// Every order is total (ties by filter index), so a sort gives the same grid each time.
const FILTER_ORDERS = {
  filter: { label: "filter index", compare: (a, b) => a.filter - b.filter },
  "activation-desc": { label: "activation, highest first", compare: (a, b) => b.activation - a.activation || a.filter - b.filter },
  "activation-asc": { label: "activation, lowest first", compare: (a, b) => a.activation - b.activation || a.filter - b.filter },
};
const GRID_STEPS = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };

// The browser on the page: keys pressed anywhere (Escape with the focus in the panel) reach it.
let activeBrowser = null;
document.addEventListener("keydown", (event) => {
  if (activeBrowser?.root.isConnected) activeBrowser.key(event);
});

function filterLink(jobId, filter) {
  return filter === null ? `#/layer-jobs/${jobId}` : `#/layer-jobs/${jobId}/filters/${filter}`;
}

// How a final image's start shows on its card (the full sentence in its tooltip): null for a live start.
function startMark(final) {
  if (!final.dead_at_start) return null;
  const text = neverAlive(final) ? "never came alive" : `revived at iteration ${final.came_alive_at}`;
  return { kind: neverAlive(final) ? "never-alive" : "revived", text, title: startNote(final) };
}

// Three significant digits without exponents, for a card's caption: 2724.8 -> "2725", 0.01234 -> "0.0123".
function activationText(value) {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

class LayerBrowser {
  /** A browser for the layer job `jobId`, opening `openFilter` (or none) once its job is shown. */
  constructor(jobId, openFilter) {
    this.jobId = jobId;
    this.pendingOpen = openFilter;
    this.job = null;
    this.finals = new Map(); // filter -> final image, as first shown
    this.cards = new Map(); // filter -> its card, made once
    this.order = []; // the finals in grid order
    this.compare = FILTER_ORDERS.filter.compare;
    this.tabbable = null; // the card Tab reaches (one only: the arrows move between the others)
    this.focused = false; // whether a card had the focus: until then Tab reaches the first card
    this.opened = null;
    this.detailState = null;
    this.exemplars = null; // the exemplar job the layer job names, as last fetched (or the error)
    this.fetchingExemplars = false;
    this.summary = element("p", { class: "counts", id: "counts" });
    this.sheet = element("details", { class: "layer-sheet" }, element("summary", {}, "Contact sheet of every filter"));
    const sort = element(
      "select",
      { id: "sort", onchange: () => this.sort(sort.value) },
      Object.entries(FILTER_ORDERS).map(([name, { label }]) => element("option", { value: name }, label)),
    );
    this.grid = element("div", { class: "filter-grid", id: "filter-grid", "aria-label": "filters: arrow keys move, Enter opens, Escape closes" });
    this.grid.addEventListener("click", (event) => this.click(event));
    this.detail = element("aside", { class: "card filter-detail", id: "filter-detail", hidden: true });
    this.body = element("div", { class: "browser-body" }, this.grid, this.detail);
    this.root = element(
      "section",
      { class: "layer-browser" },
      element("div", { class: "toolbar" }, element("label", { class: "inline" }, "Sort by", sort), this.summary),
      this.sheet,
      this.body,
    );
    activeBrowser = this;
  }

  /** Show `job` (the same job, maybe further on): new filters get a card, the rest stay as they are. */
  update(job) {
    this.job = job;
    this.loadExemplars();
    if (job.files["sheet.png"] && !this.sheet.querySelector("img")) {
      this.sheet.append(element("img", { src: job.files["sheet.png"], alt: "contact sheet of every filter", loading: "lazy" }));
    }
    for (const final of job.finals) {
      if (!this.finals.has(final.filter)) this.add(final);
    }
    this.showSummary(job.counts || { total: 0, succeeded: 0, failed: 0, canceled: 0 });
    if (this.pendingOpen !== null) {
      const filter = this.pendingOpen;
      this.pendingOpen = null;
      this.open(filter);
      if (this.cards.has(filter)) this.focus(filter);
    } else if (this.opened !== null) {
      this.showDetail();
    }
  }

  showSummary(counts) {
    const finals = [...this.finals.values()];
    const dead = finals.filter((f) => f.dead_at_start).length;
    const never = finals.filter(neverAlive).length;
    this.summary.replaceChildren(
      ...["total", "succeeded", "failed", "canceled"].map((name) => element("span", {}, `${name}: ${counts[name]}`)),
      element("span", { class: dead ? "start-note" : "muted" }, `dead at start: ${dead} (never came alive: ${never})`),
    );
  }

  card(final) {
    const mark = startMark(final);
    const size = this.job.spec.image_size;
    return element(
      "a",
      { class: mark ? `filter-card ${mark.kind}` : "filter-card", href: filterLink(this.jobId, final.filter), "data-filter": final.filter, tabindex: "-1", title: mark?.title },
      // Sized up front: the grid does not move as the lazy images arrive.
      element("img", { src: final.url, alt: `filter ${final.filter}`, loading: "lazy", decoding: "async", width: size, height: size }),
      element("span", { class: "card-caption" }, element("b", {}, String(final.filter)), ` ${activationText(final.activation)}`),
      mark ? element("span", { class: "start-mark" }, mark.text) : null,
    );
  }

  /** A filter's card, put where the current order has it (a binary search, nothing else moves). */
  add(final) {
    const card = this.card(final);
    this.finals.set(final.filter, final);
    this.cards.set(final.filter, card);
    let [low, high] = [0, this.order.length];
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.compare(this.order[middle], final) < 0) low = middle + 1;
      else high = middle;
    }
    this.grid.insertBefore(card, low < this.order.length ? this.cards.get(this.order[low].filter) : null);
    this.order.splice(low, 0, final);
    if (!this.focused && low === 0) this.setTabbable(final.filter);
  }

  /** Reorder the cards in place: the same nodes, no request. */
  sort(name) {
    this.compare = FILTER_ORDERS[name].compare;
    this.order.sort(this.compare);
    this.grid.append(...this.order.map((final) => this.cards.get(final.filter)));
    if (!this.focused && this.order.length) this.setTabbable(this.order[0].filter);
  }

  setTabbable(filter) {
    this.cards.get(this.tabbable)?.setAttribute("tabindex", "-1");
    this.tabbable = filter;
    this.cards.get(filter).setAttribute("tabindex", "0");
  }

  focus(filter) {
    this.focused = true;
    this.setTabbable(filter);
    this.cards.get(filter).focus();
  }

  click(event) {
    const card = event.target.closest(".filter-card");
    // A plain click opens the panel here; with a modifier the link opens as links do (a new tab).
    if (!card || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    const filter = Number(card.dataset.filter);
    this.focus(filter);
    this.open(filter);
  }

  // The grid's columns as laid out, for the up and down arrows.
  columns() {
    return getComputedStyle(this.grid).gridTemplateColumns.split(" ").filter(Boolean).length || 1;
  }

  key(event) {
    if (event.key === "Escape" && this.opened !== null) {
      event.preventDefault();
      this.close();
      return;
    }
    const card = event.target.closest?.(".filter-card");
    if (!card || !this.grid.contains(card) || event.altKey || event.ctrlKey || event.metaKey) return;
    const step = GRID_STEPS[event.key] ?? { ArrowUp: -this.columns(), ArrowDown: this.columns() }[event.key];
    if (step === undefined) return;
    event.preventDefault();
    const here = this.order.findIndex((final) => final.filter === Number(card.dataset.filter));
    const next = this.order[Math.min(Math.max(here + step, 0), this.order.length - 1)].filter;
    this.focus(next);
    // An open panel follows the focus: browsing with the arrows shows each filter's detail.
    if (this.opened !== null) this.open(next);
  }

  open(filter) {
    this.cards.get(this.opened)?.removeAttribute("aria-current");
    this.opened = filter;
    this.cards.get(filter)?.setAttribute("aria-current", "true");
    this.detailState = null;
    this.showDetail();
    this.loadExemplars();
    this.detail.hidden = false;
    this.body.classList.add("with-detail");
    // The address becomes the filter's permalink without a hashchange (which would rebuild the page).
    history.replaceState(null, "", filterLink(this.jobId, filter));
  }

  /** Fetch the named exemplar job until it has finished (one request at a time), then redraw
   * the open panel; fetched again on each update and opening, as its job runs on its own. */
  async loadExemplars() {
    const id = this.job.spec.exemplar_job;
    if (!id || this.fetchingExemplars || TERMINAL.has(this.exemplars?.status)) return;
    this.fetchingExemplars = true;
    try {
      this.exemplars = await api(`/v1/exemplar-jobs/${encodeURIComponent(id)}`);
    } catch (error) {
      this.exemplars = { status: "unavailable", error: problemMessage(error) };
    } finally {
      this.fetchingExemplars = false;
    }
    if (this.opened !== null) this.showDetail();
  }

  /** The open filter's two exemplar strips (the crops, the whole images), or why there are none. */
  exemplarParts(filter, final) {
    const exemplars = this.exemplars;
    if (!exemplars) return [element("p", { class: "muted" }, "Loading…")];
    if (exemplars.error) return [element("p", { class: "form-error" }, exemplars.error)];
    const id = this.job.spec.exemplar_job;
    if (exemplars.status !== "succeeded") return [element("p", { class: "muted" }, `Exemplar job ${id}: ${exemplars.status}.`)];
    // The exemplar job's folders are named as the layer job's (featviz/outputs.py ImageFolder).
    const crops = fileImage(exemplars, filterFile(this.job, filter, "exemplars.png"), `exemplars of filter ${filter}, cropped`);
    const whole = fileImage(exemplars, filterFile(this.job, filter, "exemplars_full.png"), `exemplars of filter ${filter}, whole images`);
    if (crops && whole) return [crops, whole];
    return [final ? element("p", { class: "muted" }, `Filter ${filter} is not among exemplar job ${id}'s filters.`) : null];
  }

  close() {
    const filter = this.opened;
    this.cards.get(filter)?.removeAttribute("aria-current");
    this.opened = null;
    this.detail.hidden = true;
    this.body.classList.remove("with-detail");
    history.replaceState(null, "", filterLink(this.jobId, null));
    if (this.cards.has(filter)) this.focus(filter);
  }

  /** The open filter's panel, drawn again only when what it shows changed (its links are new at
   * each fetch: drawing it at each would load its images again). */
  showDetail() {
    const { job, opened: filter } = this;
    const final = this.finals.get(filter);
    const exemplars = this.exemplars ? [this.exemplars.status, Object.keys(this.exemplars.files || {}).length] : [];
    const state = [filter, Boolean(final), Object.keys(job.files).length, ...exemplars].join(" ");
    if (state === this.detailState) return;
    this.detailState = state;
    const unfinished = TERMINAL.has(job.status) ? "This filter is not in the job's results." : "Not finished yet.";
    const parts = [
      element(
        "div",
        { class: "detail-head" },
        element("h2", {}, `Filter ${filter}`),
        element("a", { class: "permalink", href: filterLink(this.jobId, filter), title: "a link to this filter's detail" }, "permalink"),
        element("button", { type: "button", class: "secondary", "aria-label": "close", title: "close (Escape)", onclick: () => this.close() }, "×"),
      ),
      final ? element("img", { class: "detail-final", src: final.url, alt: `filter ${filter}, final image` }) : element("p", { class: "muted" }, unfinished),
      final ? element("p", { class: "muted", id: "detail-metrics" }, metricsText(final)) : null,
      final ? startNotes([final]) : null,
      // The filter's dataset exemplars: hidden where the layer job names no exemplar job.
      element(
        "section",
        { class: "exemplars", id: "filter-exemplars", "data-filter": filter, hidden: !job.spec.exemplar_job },
        element("h3", {}, "Dataset exemplars"),
        job.spec.exemplar_job ? this.exemplarParts(filter, final) : null,
      ),
      // A layer job's snapshots are recorded on its packs (featviz/outputs.py): here they are in
      // the filter's progression sheet, one image.
      element("h3", {}, "Snapshots"),
      fileImage(job, filterFile(job, filter, "sheet.png"), `progression of filter ${filter}`),
      fileImage(job, filterFile(job, filter, "progress.gif"), `GIF of filter ${filter}`),
    ];
    this.detail.replaceChildren(...parts.filter(Boolean));
  }
}
