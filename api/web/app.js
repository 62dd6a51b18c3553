// featviz in the browser: the same v1 API as every other client, no build step.
"use strict";

const KEY_STORAGE = "featviz-api-key";
const POLL_MS = 1000;
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const KINDS = {
  job: { label: "One filter", path: "/v1/jobs", schema: "JobSpec" },
  "layer-job": { label: "A whole layer", path: "/v1/layer-jobs", schema: "LayerJobSpec" },
  comparison: { label: "TV weights side by side", path: "/v1/comparisons", schema: "ComparisonSpec" },
};
const VIEW_OF_KIND = { job: "jobs", layer_job: "layer-jobs", comparison: "comparisons", exemplar_job: "exemplar-jobs" };

const view = document.getElementById("view");
let pollTimer = null;
let liveEvents = null;
let openapi = null;

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

async function api(path, { signingIn = false, ...options } = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}`, ...(options.headers || {}) };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (response.status === 401 && !signingIn) {
    sessionStorage.removeItem(KEY_STORAGE);
    location.hash = "#/sign-in";
  }
  if (!response.ok) throw new ApiError(response.status, body || { title: response.statusText });
  return body;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// Views leave out what does not apply as null; replaceChildren would show it as the text "null".
function show(...nodes) {
  view.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
}

function statusBadge(status) {
  return element("span", { class: `status ${status}`, "data-status": status }, status);
}

function problemMessage(error) {
  const problem = error.problem || {};
  return [problem.title, problem.detail].filter(Boolean).join(": ") || String(error);
}

// ---------------------------------------------------------------- sign in

function signInView() {
  const input = element("input", { id: "api-key", type: "password", autocomplete: "off", required: true });
  const message = element("p", { class: "form-error", role: "alert" });
  const form = element(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        sessionStorage.setItem(KEY_STORAGE, input.value.trim());
        try {
          await api("/v1/models", { signingIn: true });
          location.hash = "#/jobs";
        } catch (error) {
          sessionStorage.removeItem(KEY_STORAGE);
          message.textContent = error.status === 401 ? "That key is not accepted." : problemMessage(error);
        }
      },
    },
    element("h1", {}, "Sign in"),
    element("p", { class: "muted" }, "The key stays in this browser tab only (session storage)."),
    element("label", {}, "API key", input),
    message,
    element("div", { class: "actions" }, element("button", { class: "primary", type: "submit" }, "Sign in")),
  );
  show(form);
}

// ---------------------------------------------------------------- new job

// The form is built from the spec's JSON schema: the fields with a label (x-featviz-label,
// from featviz/fields.py), their defaults, choices and descriptions.
async function specSchema(name) {
  openapi = openapi || (await (await fetch("/openapi.json")).json());
  return openapi.components.schemas[name];
}

// The input a property takes: the table's x-featviz-input, else what its JSON type says.
function inputType(property) {
  if (property["x-featviz-input"]) return property["x-featviz-input"];
  const [type] = (property.anyOf || [property]).filter((arm) => arm.type !== "null");
  if (type.enum) return type.enum;
  if (type.type === "array") return type.items.enum ? "words" : type.items.type === "integer" ? "ints" : "floats";
  if (type.type === "integer") return "int";
  if (type.type === "number") return "float";
  return "text";
}

function formFields(schema) {
  return Object.entries(schema.properties)
    .filter(([, property]) => property["x-featviz-label"])
    .map(([name, property]) => ({
      name,
      label: property["x-featviz-label"],
      help: property.description,
      type: inputType(property),
      default: property.default,
    }));
}

function numberList(text, parse) {
  return text.split(",").map((part) => part.trim()).filter(Boolean).map(parse);
}

function filterList(text) {
  const filters = [];
  for (const part of numberList(text, (p) => p)) {
    const range = part.match(/^(\d+)-(\d+)$/);
    if (range) for (let i = Number(range[1]); i <= Number(range[2]); i++) filters.push(i);
    else filters.push(Number(part));
  }
  return filters;
}

// Objective terms as typed: "channel" or weighted "channel:1,neuron:0.5".
function objectiveTerms(text) {
  return numberList(text, (part) => {
    const [kind, weight] = part.split(":");
    return weight === undefined ? { kind } : { kind, weight: Number.parseFloat(weight) };
  });
}

function fieldValue(type, input) {
  const text = input.value.trim();
  if (text === "") return undefined;
  if (type === "int") return Number.parseInt(text, 10);
  if (type === "float") return Number.parseFloat(text);
  if (type === "ints") return numberList(text, (p) => Number.parseInt(p, 10));
  if (type === "floats") return numberList(text, Number.parseFloat);
  if (type === "words") return numberList(text, (part) => part);
  if (type === "filters") return filterList(text);
  if (type === "objective") return objectiveTerms(text);
  return text;
}

function shownValue(value) {
  if (value === undefined || value === null) return "";
  if (!Array.isArray(value)) return String(value);
  return value.map((item) => (typeof item === "object" ? `${item.kind}:${item.weight}` : item)).join(",");
}

async function newJobView(kind = "job") {
  const models = await api("/v1/models");
  const fields = formFields(await specSchema(KINDS[kind].schema));
  const defaults = Object.fromEntries(fields.map((field) => [field.name, field.default]));
  const inputs = {};
  const errors = {};
  const layerSelect = element("select", { name: "layer", id: "field-layer" });

  async function fillLayers(modelName, chosen) {
    const model = await api(`/v1/models/${encodeURIComponent(modelName)}`);
    layerSelect.replaceChildren(
      ...model.layers.map((layer) =>
        element("option", { value: layer.name, selected: layer.name === chosen }, `${layer.name} (${layer.channels} channels)`),
      ),
    );
  }

  const form = element("form", { class: "grid", novalidate: true });
  for (const { name, label, help, type } of fields) {
    let input;
    if (type === "model") {
      input = element(
        "select",
        { name, id: `field-${name}`, onchange: () => fillLayers(input.value, null) },
        // The key's own models join the catalog's once ready; jobs name them by id.
        ...models
          .filter((m) => m.status === "ready")
          .map((m) => element("option", { value: m.id, selected: m.id === defaults.model }, m.kind === "uploaded" ? `${m.name} (uploaded)` : m.name)),
      );
    } else if (type === "layer") {
      input = layerSelect;
    } else if (Array.isArray(type)) {
      input = element("select", { name, id: `field-${name}` }, ...type.map((v) => element("option", { value: v, selected: v === defaults[name] }, v)));
    } else {
      input = element("input", { name, id: `field-${name}`, value: shownValue(defaults[name]), inputmode: "decimal" });
    }
    inputs[name] = { input, type };
    errors[name] = element("span", { class: "field-error", id: `error-${name}`, role: "alert" });
    form.append(element("label", { for: `field-${name}`, title: help }, label, input, errors[name]));
  }
  await fillLayers(inputs.model.input.value, defaults.layer);

  const formError = element("p", { class: "form-error", role: "alert" });
  form.append(
    element("div", { class: "actions" }, element("button", { class: "primary", type: "submit" }, "Visualise"), formError),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const [name, span] of Object.entries(errors)) {
      span.textContent = "";
      inputs[name].input.removeAttribute("aria-invalid");
    }
    formError.textContent = "";
    const body = {};
    for (const [name, { input, type }] of Object.entries(inputs)) {
      const value = type === "model" || type === "layer" || Array.isArray(type) ? input.value : fieldValue(type, input);
      if (value !== undefined) body[name] = value;
    }
    try {
      const job = await api(KINDS[kind].path, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "Idempotency-Key": crypto.randomUUID() },
      });
      location.hash = `#/jobs/${job.id}`;
    } catch (error) {
      const fieldErrors = error.problem?.errors || [];
      for (const { field, message } of fieldErrors) {
        const name = field.split(".")[0];
        if (errors[name]) {
          errors[name].textContent = message;
          inputs[name].input.setAttribute("aria-invalid", "true");
        }
      }
      const unplaced = fieldErrors.filter(({ field }) => !errors[field.split(".")[0]]);
      if (!fieldErrors.length || unplaced.length) formError.textContent = problemMessage(error);
    }
  });

  const kindPicker = element(
    "div",
    { class: "toolbar" },
    ...Object.entries(KINDS).map(([name, { label }]) =>
      element("button", { type: "button", class: name === kind ? "primary" : "secondary", onclick: () => newJobView(name) }, label),
    ),
  );
  show(element("h1", {}, "New visualisation"), kindPicker, element("div", { class: "card" }, form));
}

// ---------------------------------------------------------------- job list

async function jobsView(params) {
  const status = params.get("status") || "";
  const cursor = params.get("cursor") || "";
  const query = new URLSearchParams({ limit: "20" });
  if (status) query.set("status", status);
  if (cursor) query.set("cursor", cursor);
  const page = await api(`/v1/jobs?${query}`);
  const filters = element(
    "div",
    { class: "toolbar" },
    ...["", "queued", "running", "succeeded", "failed", "canceled"].map((name) =>
      element("a", { href: `#/jobs?status=${name}`, class: name === status ? "primary" : "" }, name || "all"),
    ),
  );
  const rows = page.items.map((job) =>
    element(
      "tr",
      {},
      element("td", {}, element("a", { href: `#/jobs/${job.id}` }, job.id)),
      element("td", {}, job.kind.replace("_", " ")),
      element("td", {}, `${job.spec.model} ${job.spec.layer}`),
      element("td", {}, statusBadge(job.status)),
      element("td", { class: "muted" }, new Date(job.created_at).toLocaleString()),
    ),
  );
  const next = page.next_cursor
    ? element("a", { href: `#/jobs?status=${status}&cursor=${encodeURIComponent(page.next_cursor)}` }, "Older jobs →")
    : null;
  show(
    element("h1", {}, "Jobs"),
    filters,
    rows.length
      ? element("table", {}, element("thead", {}, element("tr", {}, ["Job", "Kind", "Layer", "Status", "Created"].map((h) => element("th", {}, h)))), element("tbody", {}, rows))
      : element("p", { class: "muted" }, "No jobs yet. ", element("a", { href: "#/new" }, "Start one.")),
    next,
  );
}

// ---------------------------------------------------------------- job pages

function activationChart(snapshots) {
  const width = 420, height = 160, pad = 28;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "activation over iterations");
  if (!snapshots.length) return svg;
  // The optimised image's activation, and the PNG's as displayed where the service measured it.
  const series = [
    ["activation", "#2f6fde", "", snapshots],
    ["displayed_activation", "#c2410c", "5 3", snapshots.filter((s) => s.displayed_activation != null)],
  ];
  const xs = snapshots.map((s) => s.iteration);
  const ys = series.flatMap(([name, , , points]) => points.map((s) => s[name]));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1], [y0, y1] = [Math.min(0, ...ys), Math.max(...ys) || 1];
  const scaleX = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (width - 2 * pad);
  const scaleY = (y) => height - pad - ((y - y0) / (y1 - y0 || 1)) * (height - 2 * pad);
  for (const [name, colour, dashes, points] of series) {
    const line = document.createElementNS(svg.namespaceURI, "polyline");
    line.setAttribute("class", `series-${name}`);
    line.setAttribute("points", points.map((s) => `${scaleX(s.iteration)},${scaleY(s[name])}`).join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", colour);
    line.setAttribute("stroke-width", "2");
    if (dashes) line.setAttribute("stroke-dasharray", dashes);
    svg.append(line);
  }
  for (const [text, x, y] of [[`iter ${x0}`, pad, height - 8], [`iter ${x1}`, width - pad - 40, height - 8], [`act ${y1.toFixed(2)} (dashed: as displayed)`, 2, pad - 8]]) {
    const label = document.createElementNS(svg.namespaceURI, "text");
    label.setAttribute("x", x);
    label.setAttribute("y", y);
    label.setAttribute("font-size", "11");
    label.setAttribute("fill", "#687385");
    label.textContent = text;
    svg.append(label);
  }
  return svg;
}

function metricsText(image) {
  const shown = image.displayed_activation == null ? "" : ` (as displayed ${image.displayed_activation.toFixed(3)})`;
  return `activation ${image.activation.toFixed(3)}${shown} · HF ${image.high_frequency_fraction.toFixed(2)}`;
}

// How a final image's start went, as the SDK's Image.start_note says it; null for a live start.
function startNote(image) {
  if (!image.dead_at_start) return null;
  return image.came_alive_at == null ? "dead at the start image; never came alive" : `dead at the start image; came alive at iteration ${image.came_alive_at}`;
}

const neverAlive = (image) => Boolean(image.dead_at_start) && image.came_alive_at == null;

function startNotes(finals) {
  const notes = finals.map(startNote).filter(Boolean);
  return notes.length ? element("p", { class: "start-note", id: "start-note" }, notes.join(" · ")) : null;
}

function snapshotFigure(image, caption) {
  return element(
    "figure",
    { class: "snapshot", "data-iteration": image.iteration },
    element("img", { src: image.url, alt: caption, loading: "lazy" }),
    element("figcaption", {}, caption, element("br"), metricsText(image)),
  );
}

function header(job, onCancel) {
  const percent = job.progress.total ? Math.round((100 * job.progress.iteration) / job.progress.total) : 0;
  return element(
    "div",
    { class: "card" },
    element("h1", {}, `${job.kind.replace("_", " ")} ${job.id} `, statusBadge(job.status)),
    element("p", { class: "muted" }, `${job.spec.model} · ${job.spec.layer} · ${job.spec.iterations} iterations · ${job.spec.image_size} px`),
    element("div", { class: "progress", role: "progressbar", "aria-valuenow": percent, "aria-valuemin": 0, "aria-valuemax": 100 }, element("div", { style: `width:${percent}%` })),
    element("p", { class: "muted", id: "progress-text" }, `${job.progress.iteration} / ${job.progress.total} iterations · attempts ${job.attempts}`),
    job.waiting_for === "worker" ? element("p", { class: "muted", id: "waiting" }, "Waiting for a worker: none was running when this job was submitted.") : null,
    job.error ? element("p", { class: "form-error" }, `${job.error.title}: ${job.error.detail || ""}`) : null,
    TERMINAL.has(job.status) ? null : element("button", { class: "secondary", id: "cancel", type: "button", onclick: onCancel }, "Cancel"),
  );
}

// A filter's folder in the job ("filter_0004"), from the path the API gives each of its images.
function filterFile(job, filter, name) {
  const image = [...job.finals, ...job.snapshots].find((entry) => entry.filter === filter);
  return image ? `${image.path.slice(0, image.path.lastIndexOf("/"))}/${name}` : name;
}

function fileImage(job, name, alt) {
  if (!job.files[name]) return null;
  const kind = name.endsWith(".gif") ? "gif" : "sheet";
  return element("div", { class: "sheet" }, element("img", { src: job.files[name], alt, class: kind }));
}

function jobBody(job) {
  return [
    element("h2", {}, "Snapshots"),
    job.snapshots.length
      ? element("div", { class: "snapshots" }, job.snapshots.map((s) => snapshotFigure(s, `iteration ${s.iteration}`)))
      : element("p", { class: "muted" }, "The first snapshot appears once its iteration is reached."),
    startNotes(job.finals),
    element("h2", {}, "Activation over iterations"),
    activationChart(job.snapshots),
    TERMINAL.has(job.status) ? element("h2", {}, "Contact sheet and progression") : null,
    fileImage(job, filterFile(job, job.spec.filter, "sheet.png"), "contact sheet"),
    fileImage(job, filterFile(job, job.spec.filter, "progress.gif"), "progression GIF"),
  ];
}

function comparisonBody(job) {
  return [
    element("h2", {}, "TV weights side by side"),
    fileImage(job, "sheet.png", "comparison grid"),
    element(
      "div",
      { class: "snapshots" },
      job.finals.map((final) => snapshotFigure(final, `TV ${final.tv_weight}`)),
    ),
  ];
}

// The job's events keep the page live (EventSource, through the record's signed events_url,
// as EventSource sends no API key): progress redraws the page, a status or snapshot fetches the
// record again, the last event closes the stream. Polling takes over where there is no
// EventSource or the stream is refused (an expired link, an older service).
function follow(job, refresh, onProgress) {
  const poll = () => {
    pollTimer = setTimeout(() => refresh().then((current) => TERMINAL.has(current.status) || poll()).catch(showError), POLL_MS);
  };
  if (!window.EventSource) return poll();
  const source = new EventSource(job.events_url);
  liveEvents = source;
  source.addEventListener("progress", (event) => onProgress(JSON.parse(event.data)));
  for (const name of ["status", "snapshot"]) source.addEventListener(name, () => refresh().catch(showError));
  for (const name of ["completed", "failed", "canceled"]) {
    source.addEventListener(name, () => {
      source.close();
      refresh().catch(showError);
    });
  }
  // A lost connection is retried by EventSource itself; a refused one closes it.
  source.onerror = () => source.readyState === EventSource.CLOSED && poll();
}

// A layer job's page is its LayerBrowser (browser.js), opened on `filter` when given.
async function jobView(id, filter = null) {
  let job = null;
  let browser = null;
  const cancel = async () => {
    await api(`/v1/${VIEW_OF_KIND[job.kind]}/${job.id}/cancel`, { method: "POST" });
    await refresh();
  };
  const render = () => {
    if (job.kind !== "layer_job") {
      show(header(job, cancel), ...(job.kind === "comparison" ? comparisonBody(job) : jobBody(job)));
      return;
    }
    browser = browser || new LayerBrowser(job.id, filter);
    // Only the header is new on a refresh: the browser keeps its nodes, order and focus.
    if (view.lastChild === browser.root) view.firstChild.replaceWith(header(job, cancel));
    else show(header(job, cancel), browser.root);
    browser.update(job); // once shown, so that it can focus a permalink's filter
  };
  async function refresh() {
    job = await api(`/v1/jobs/${encodeURIComponent(id)}`);
    render();
    return job;
  }
  await refresh();
  if (!TERMINAL.has(job.status)) {
    follow(job, refresh, (progress) => {
      job.progress = progress;
      render();
    });
  }
}

function stopFollowing() {
  clearTimeout(pollTimer);
  liveEvents?.close();
  liveEvents = null;
}

// ---------------------------------------------------------------- routing

function showError(error) {
  show(element("div", { class: "card" }, element("h1", {}, "Something went wrong"), element("p", { class: "form-error" }, problemMessage(error))));
}

async function route() {
  stopFollowing();
  const [path, query] = location.hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  const signedIn = Boolean(apiKey());
  document.getElementById("nav").hidden = !signedIn;
  if (!signedIn) return signInView();
  try {
    const job = path.match(/^\/jobs\/([\w-]+)$/);
    if (job) return await jobView(job[1]);
    const layer = path.match(/^\/layer-jobs\/([\w-]+)(?:\/filters\/(\d+))?$/);
    if (layer) return await jobView(layer[1], layer[2] === undefined ? null : Number(layer[2]));
    if (path === "/new") return await newJobView(params.get("kind") || "job");
    return await jobsView(params);
  } catch (error) {
    showError(error);
  }
}

document.getElementById("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORAGE);
  location.hash = "#/sign-in";
  route();
});
window.addEventListener("hashchange", route);
route();
