// The explorer's page: plain JavaScript, a canvas for the surface and an SVG
// overlay for paths and start points. No library, no build step. Every
// number comes from the server's JSON API (/api/options, /api/surface,
// /api/paths, /api/basins); this file only draws and asks.
"use strict";

const PALETTE = [
  "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4",
  "#f032e6", "#9a6324", "#000075", "#808000",
];
const BASIN_NONE = "#c8c8c8";
const BASIN_DIVERGED = "#000000";
const SURFACE_RESOLUTION = 160;
const LEVELS = 24;
const MAX_STARTS = 64;

const state = {
  options: null,
  landscape: null,
  surface: null, // {values, min, max, resolution} of the current landscape.
  mode: "paths",
  starts: [],
  cards: [],
  basin: { result: null, inFlight: false, dirty: false, error: null },
  basinPath: { start: null, result: null, inFlight: false, dirty: false },
  frame: null, // null: whole paths; else the record shown.
  playing: null,
};

const TYPING_MS = 350; // Quiet time after a keystroke before asking.

const $ = (id) => document.getElementById(id);

function debounced(fn, ms) {
  // fn, called once the calls have stopped for ms milliseconds.
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

async function api(url, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(url, init);
  const payload = await response.json();
  if (!response.ok) throw new Error(payload.error || response.statusText);
  return payload;
}

function setStatus(text, error = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

// --- Geometry -------------------------------------------------------------

function surfaceInfo() {
  return state.options.surfaces[state.landscape];
}

function toView([x, y]) {
  const [[x0, x1], [y0, y1]] = surfaceInfo().bounds;
  return [((x - x0) / (x1 - x0)) * 1000, (1 - (y - y0) / (y1 - y0)) * 1000];
}

function fromView(u, v) {
  const [[x0, x1], [y0, y1]] = surfaceInfo().bounds;
  return [x0 + (u / 1000) * (x1 - x0), y0 + (1 - v / 1000) * (y1 - y0)];
}

function round(value, digits = 4) {
  return Number(Number(value).toPrecision(digits));
}

// --- Colours --------------------------------------------------------------

const VIRIDIS = [
  [68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37],
];

function viridis(t) {
  t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t));
  const f = t - i;
  return VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
}

function rgb([r, g, b]) {
  return `rgb(${r},${g},${b})`;
}

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

// --- The surface: a heat map (or the basin map) and contour lines -----------

function normalised(values, min, max) {
  const span = Math.log1p(Math.max(max - min, 1e-12));
  return values.map((v) => (v === null ? 1 : Math.log1p(Math.max(v - min, 0)) / span));
}

function contours(ctx, t, n, size, colour) {
  // Marching squares on the grid t[i * n + j] (row i: y ascending).
  ctx.strokeStyle = colour;
  ctx.lineWidth = Math.max(1, size / 600);
  ctx.beginPath();
  const px = (j) => (j / (n - 1)) * size;
  const py = (i) => (1 - i / (n - 1)) * size;
  for (let level = 1; level < LEVELS; level++) {
    const L = level / LEVELS;
    for (let i = 0; i < n - 1; i++) {
      for (let j = 0; j < n - 1; j++) {
        const a = t[i * n + j], b = t[i * n + j + 1];
        const c = t[(i + 1) * n + j + 1], d = t[(i + 1) * n + j];
        const corners = [[i, j, a], [i, j + 1, b], [i + 1, j + 1, c], [i + 1, j, d]];
        const points = [];
        for (let k = 0; k < 4; k++) {
          const [i0, j0, v0] = corners[k];
          const [i1, j1, v1] = corners[(k + 1) % 4];
          if ((v0 < L) !== (v1 < L)) {
            const f = (L - v0) / (v1 - v0);
            points.push([px(j0 + f * (j1 - j0)), py(i0 + f * (i1 - i0))]);
          }
        }
        for (let k = 0; k + 1 < points.length; k += 2) {
          ctx.moveTo(points[k][0], points[k][1]);
          ctx.lineTo(points[k + 1][0], points[k + 1][1]);
        }
      }
    }
  }
  ctx.stroke();
}

function drawSurface() {
  const canvas = $("surface");
  const size = Math.max(200, Math.round(canvas.clientWidth * (window.devicePixelRatio || 1)));
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, size, size);
  const surface = state.surface;
  if (!surface) return;
  const n = surface.resolution;
  const t = normalised(surface.values, surface.min, surface.max);
  const basin = state.mode === "basins" ? state.basin.result : null;
  const image = document.createElement("canvas");
  if (basin) {
    const m = basin.resolution;
    image.width = image.height = m;
    const pixels = image.getContext("2d").createImageData(m, m);
    basin.labels.forEach((label, k) => {
      const i = Math.floor(k / m), j = k % m;
      const colour = label === -2 ? BASIN_DIVERGED : label === -1 ? BASIN_NONE
        : PALETTE[label % PALETTE.length];
      const offset = ((m - 1 - i) * m + j) * 4;
      pixels.data.set([...hexToRgb(colour), 255], offset);
    });
    image.getContext("2d").putImageData(pixels, 0, 0);
    ctx.imageSmoothingEnabled = false;
  } else {
    image.width = image.height = n;
    const pixels = image.getContext("2d").createImageData(n, n);
    t.forEach((value, k) => {
      const i = Math.floor(k / n), j = k % n;
      const [r, g, b] = viridis(value);
      pixels.data.set([r, g, b, 255], ((n - 1 - i) * n + j) * 4);
    });
    image.getContext("2d").putImageData(pixels, 0, 0);
    ctx.imageSmoothingEnabled = true;
  }
  ctx.drawImage(image, 0, 0, size, size);
  contours(ctx, t, n, size, basin ? "rgba(255,255,255,0.45)" : "rgba(255,255,255,0.35)");
  drawAxes(basin);
}

// --- Axes and the colour bar ----------------------------------------------

function niceTicks(low, high, count = 5) {
  // Round values (1, 2, 2.5 or 5 times a power of ten) spanning [low, high].
  const raw = (high - low) / (count - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let k = Math.ceil(low / step); k * step <= high + step * 1e-9; k++) {
    ticks.push(round(k * step, 6));
  }
  return ticks;
}

function placeTicks(id, ticks, where) {
  // ticks: [[label, fraction along the axis]]; where(fraction) -> CSS.
  $(id).replaceChildren(...ticks.map(([label, fraction]) => {
    const span = document.createElement("span");
    span.textContent = label;
    Object.assign(span.style, where(fraction));
    return span;
  }));
}

function drawAxes(basin) {
  // Labelled x and y axes (the landscape's bounds) and a colour bar: the
  // loss on the heat map's log scale, or the basin map's colours.
  const [[x0, x1], [y0, y1]] = surfaceInfo().bounds;
  placeTicks("x-ticks", niceTicks(x0, x1).map((x) => [x, (x - x0) / (x1 - x0)]),
    (f) => ({ left: `${100 * f}%` }));
  placeTicks("y-ticks", niceTicks(y0, y1).map((y) => [y, (y - y0) / (y1 - y0)]),
    (f) => ({ top: `${100 * (1 - f)}%` }));
  const vertical = (f) => ({ top: `${100 * (1 - f)}%` });
  const bar = $("colourbar-bar");
  if (basin) {
    const minima = basin.minima.map((m, k) => [`(${m.map((c) => round(c, 3))})`,
      PALETTE[k % PALETTE.length]]);
    const classes = [...minima, ["none", BASIN_NONE], ["diverged", BASIN_DIVERGED]];
    const share = 100 / classes.length;
    bar.style.background = `linear-gradient(to top, ${classes.map(([, colour], k) =>
      `${colour} ${k * share}%, ${colour} ${(k + 1) * share}%`).join(", ")})`;
    placeTicks("colourbar-ticks",
      classes.map(([label], k) => [label, (k + 0.5) / classes.length]), vertical);
    $("colourbar-label").textContent = "ends at";
    return;
  }
  const { min, max } = state.surface;
  if (min === null) return; // No finite loss to scale.
  const span = Math.log1p(Math.max(max - min, 1e-12));
  const stops = [0, 0.25, 0.5, 0.75, 1];
  bar.style.background = `linear-gradient(to top, ${stops.map((t) =>
    `${rgb(viridis(t))} ${100 * t}%`).join(", ")})`;
  placeTicks("colourbar-ticks",
    stops.map((t) => [String(round(min + Math.expm1(t * span), 3)), t]), vertical);
  $("colourbar-label").textContent = "loss (log scale)";
}

// --- The overlay: minima, starts, paths -------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes, parent) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  parent.appendChild(element);
  return element;
}

function visibleResults() {
  // [{card, payload, index}] of what the current view shows.
  if (state.mode === "basins") {
    const path = state.basinPath;
    return path.result && path.result.settings.landscape === state.landscape
      ? [{ card: state.cards[0], payload: path.result, index: 0 }] : [];
  }
  const cards = state.mode === "fan" ? state.cards.slice(0, 1) : state.cards;
  return cards.map((card, index) => ({ card, payload: card.result, index }))
    .filter(({ payload }) => payload && payload.settings.landscape === state.landscape
      && (payload.mode === state.mode));
}

function numRecords() {
  return Math.max(0, ...visibleResults().map(({ payload }) => payload.paths[0].length));
}

function drawOverlay() {
  const overlay = $("overlay");
  overlay.replaceChildren();
  if (!state.options) return;
  for (const [x, y] of surfaceInfo().minima) {
    const [u, v] = toView([x, y]);
    svg("path", {
      d: `M${u - 9},${v - 9}L${u + 9},${v + 9}M${u - 9},${v + 9}L${u + 9},${v - 9}`,
      class: "minimum", stroke: "white", "stroke-width": 3,
    }, overlay);
  }
  const records = numRecords();
  const shown = state.frame === null ? records : state.frame + 1;
  for (const { card, payload, index } of visibleResults()) {
    const fan = state.mode === "fan";
    payload.paths.forEach((path, lane) => {
      const colour = fan ? rgb(viridis(lane / Math.max(1, payload.paths.length - 1)))
        : PALETTE[index % PALETTE.length];
      const points = path.slice(0, shown).filter((p) => p[0] !== null)
        .map((p) => toView(p).map((c) => c.toFixed(1)).join(",")).join(" ");
      if (state.mode === "basins") { // A dark edge: visible on any basin.
        svg("polyline", {
          points, fill: "none", stroke: "black", "stroke-width": 7,
          "stroke-linejoin": "round",
        }, overlay);
      }
      svg("polyline", {
        points, fill: "none", stroke: state.mode === "basins" ? "white" : colour,
        "stroke-width": fan ? 2 : 3.5,
        "stroke-linejoin": "round", class: "path",
        "data-optimizer": card.optimizer, "data-lane": lane,
      }, overlay);
      const head = path[Math.min(shown, path.length) - 1];
      if (head && head[0] !== null && state.frame !== null) {
        const [u, v] = toView(head);
        svg("circle", { cx: u, cy: v, r: 7, fill: colour, stroke: "white", class: "head" }, overlay);
      }
    });
  }
  const starts = state.mode === "basins"
    ? (state.basinPath.start ? [state.basinPath.start] : []) : state.starts;
  for (const start of starts) {
    const [u, v] = toView(start);
    svg("circle", {
      cx: u, cy: v, r: 8, fill: "white", stroke: "black", "stroke-width": 2,
      class: "start",
    }, overlay);
  }
  const frame = $("frame");
  frame.max = Math.max(0, records - 1);
  if (state.frame === null) frame.value = frame.max;
  $("frame-out").textContent = state.frame === null ? "all" : frameStep(state.frame);
}

function frameStep(record) {
  const payload = visibleResults()[0]?.payload;
  return payload ? String(record * payload.record_every) : String(record);
}

// --- Legend, settings, "copy as Python" -----------------------------------

function describeValue(value) {
  if (Array.isArray(value)) return value.map((v) => round(v, 6)).join(", ");
  if (value && typeof value === "object") {
    return `${value.log ? "geomspace" : "linspace"}(${value.from}, ${value.to}, ${value.count})`;
  }
  return String(value);
}

function describe(settings) {
  const hyper = Object.entries(settings.hyperparams)
    .map(([name, value]) => `${name}=${describeValue(value)}`).join(", ");
  const parts = [`${settings.landscape}`, `${settings.optimizer}(${hyper})`,
    `${settings.num_steps} steps`];
  if (settings.starts) {
    parts.push(`starts ${settings.starts.map(([x, y]) => `(${round(x)}, ${round(y)})`).join(" ")}`);
    parts.push(`recorded every ${settings.record_every} step(s)`);
  }
  if (settings.resolution) {
    const [[x0, x1], [y0, y1]] = settings.bounds;
    parts.push(`${settings.resolution} × ${settings.resolution} starts over [${x0}, ${x1}] × [${y0}, ${y1}]`);
  }
  return parts.join(" · ");
}

function updateText() {
  const shown = visibleResults().map(({ payload }) => payload);
  if (state.mode === "basins" && state.basin.result) shown.unshift(state.basin.result);
  const settings = $("settings");
  settings.replaceChildren();
  for (const payload of shown) {
    const line = document.createElement("p");
    line.textContent = describe(payload.settings);
    settings.appendChild(line);
  }
  $("python").textContent = shown.map((payload) => payload.python).join("\n# ---\n\n");
  const legend = $("legend");
  legend.replaceChildren();
  const item = (colour, text) => {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = colour;
    span.append(swatch, text);
    legend.appendChild(span);
  };
  if (state.mode === "paths") {
    state.cards.forEach((card, i) => item(PALETTE[i % PALETTE.length], card.optimizer));
  } else if (state.mode === "fan" && state.cards[0]) {
    const fan = fanRange();
    item(rgb(viridis(0)), `${fan.name} ${fan.from}`);
    item(rgb(viridis(1)), `${fan.name} ${fan.to}`);
  } else if (state.mode === "basins") {
    surfaceInfo().minima.forEach(([x, y], i) =>
      item(PALETTE[i % PALETTE.length], `minimum (${round(x, 3)}, ${round(y, 3)})`));
    item(BASIN_NONE, "none within 0.1");
    item(BASIN_DIVERGED, "diverged");
  }
}

function copyPython() {
  const text = $("python").textContent;
  const done = (message) => { $("copied").textContent = message; };
  const fallback = () => {
    const range = document.createRange();
    range.selectNodeContents($("python"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    done(document.execCommand("copy") ? "copied" : "selected: press Ctrl-C");
  };
  if (navigator.clipboard) {
    navigator.clipboard.writeText(text).then(() => done("copied"), fallback);
  } else {
    fallback();
  }
}

// --- Requests: the latest settings win, one request in flight per view -------

function numSteps() {
  const steps = Math.round(Number($("steps").value));
  return Number.isFinite(steps) ? steps : 1;
}

function fanRange() {
  return {
    name: $("fan-name").value,
    from: Number($("fan-from").value),
    to: Number($("fan-to").value),
    count: Math.round(Number($("fan-count").value)),
    log: $("fan-log").checked,
  };
}

function pathsBody(card, starts) {
  const hyperparams = { ...card.values };
  if (state.mode === "fan" && card === state.cards[0]) {
    const { name, from, to, count, log } = fanRange();
    hyperparams[name] = { from, to, count, log };
  }
  return {
    landscape: state.landscape,
    optimizer: card.optimizer,
    hyperparams,
    starts,
    num_steps: numSteps(),
  };
}

async function pump(job, makeBody, onResult) {
  // job: {inFlight, dirty}. Sends the latest settings when the last answer
  // is in, so dragging a slider never queues stale requests.
  if (job.inFlight || !job.dirty) return;
  job.dirty = false;
  const body = makeBody();
  if (body === null) return;
  job.inFlight = true;
  const started = performance.now();
  try {
    const payload = await api(body.url, body.json);
    payload.mode = body.mode;
    onResult(payload, performance.now() - started);
  } catch (error) {
    setStatus(error.message, true);
  } finally {
    job.inFlight = false;
  }
  pump(job, makeBody, onResult);
}

function shownCards() {
  return state.mode === "fan" ? state.cards.slice(0, 1)
    : state.mode === "basins" ? [] : state.cards;
}

function schedule(card) {
  card.dirty = true;
  pump(card, () => {
    if (!shownCards().includes(card) || !state.starts.length) {
      card.result = null;
      drawOverlay();
      updateText();
      return null;
    }
    return { url: "/api/paths", json: pathsBody(card, state.starts), mode: state.mode };
  }, (payload, ms) => {
    card.result = payload;
    setStatus(`${card.optimizer}: ${payload.paths.length} path(s) in ${Math.round(ms)} ms`);
    drawOverlay();
    updateText();
  });
}

function scheduleBasin() {
  const job = state.basin;
  job.dirty = true;
  setStatus("computing the basin map…");
  pump(job, () => (state.mode !== "basins" || !state.cards[0] ? null : {
    url: "/api/basins",
    json: {
      landscape: state.landscape,
      optimizer: state.cards[0].optimizer,
      hyperparams: { ...state.cards[0].values },
      num_steps: numSteps(),
      resolution: Number($("resolution").value),
    },
    mode: "basins",
  }), (payload, ms) => {
    job.result = payload.settings.landscape === state.landscape ? payload : null;
    setStatus(`basin map: ${payload.resolution}² starts in ${Math.round(ms)} ms`);
    drawSurface();
    drawOverlay();
    updateText();
  });
  scheduleBasinPath();
}

function scheduleBasinPath() {
  const job = state.basinPath;
  job.dirty = true;
  pump(job, () => (state.mode !== "basins" || !job.start ? null : {
    url: "/api/paths",
    json: pathsBody(state.cards[0], [job.start]),
    mode: "basins",
  }), (payload) => {
    job.result = payload;
    drawOverlay();
    updateText();
  });
}

function refresh() {
  stopAnimation();
  if (state.mode === "basins") {
    scheduleBasin();
  } else {
    state.cards.forEach(schedule);
  }
  drawOverlay();
  updateText();
}

// --- Optimizer cards and their sliders ----------------------------------------

function optimizerSpec(name) {
  return state.options.optimizers.find((o) => o.name === name);
}

function toSlider(spec, value) {
  if (spec.log) {
    const [a, b] = [Math.log10(spec.low), Math.log10(spec.high)];
    return Math.round(((Math.log10(value) - a) / (b - a)) * 1000);
  }
  return Math.round(((value - spec.low) / (spec.high - spec.low)) * 1000);
}

function fromSlider(spec, position) {
  const t = Number(position) / 1000;
  const value = spec.log
    ? 10 ** (Math.log10(spec.low) + t * (Math.log10(spec.high) - Math.log10(spec.low)))
    : spec.low + t * (spec.high - spec.low);
  return Math.min(spec.high, Math.max(spec.low, round(value)));
}

function buildSliders(card) {
  const box = card.element.querySelector(".sliders");
  box.replaceChildren();
  const spec = optimizerSpec(card.optimizer);
  card.element.querySelector(".doc").textContent = spec.doc || spec.code;
  for (const h of spec.hyperparameters) {
    const row = document.createElement("label");
    row.className = "slider";
    const name = document.createElement("span");
    name.textContent = h.name + (h.log ? " (log)" : "");
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: 0, max: 1000, step: 1 });
    input.dataset.name = h.name;
    input.setAttribute("aria-label", h.name);
    const output = document.createElement("output");
    const show = () => { output.textContent = String(card.values[h.name]); };
    input.value = toSlider(h, card.values[h.name]);
    show();
    input.addEventListener("input", () => {
      card.values[h.name] = fromSlider(h, input.value);
      show();
      if (state.mode === "basins" && card === state.cards[0]) scheduleBasin();
      else schedule(card);
    });
    row.append(name, input, output);
    box.appendChild(row);
  }
}

function defaults(name) {
  return Object.fromEntries(optimizerSpec(name).hyperparameters.map((h) => [h.name, h.default]));
}

function addCard(name) {
  const card = { optimizer: name, values: defaults(name), result: null, inFlight: false, dirty: false };
  const element = document.createElement("div");
  element.className = "card";
  const head = document.createElement("div");
  head.className = "row";
  const select = document.createElement("select");
  select.className = "optimizer";
  select.setAttribute("aria-label", "optimizer");
  const families = {};
  for (const o of state.options.optimizers) (families[o.family] ||= []).push(o.name);
  for (const [family, names] of Object.entries(families)) {
    const group = document.createElement("optgroup");
    group.label = family;
    for (const n of names) group.appendChild(new Option(n, n));
    select.appendChild(group);
  }
  select.value = name;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "remove";
  const doc = document.createElement("div");
  doc.className = "doc";
  const sliders = document.createElement("div");
  sliders.className = "sliders";
  head.append(select, remove);
  element.append(head, doc, sliders);
  card.element = element;
  $("cards").appendChild(element);
  state.cards.push(card);
  select.addEventListener("change", () => {
    card.optimizer = select.value;
    card.values = defaults(select.value);
    buildSliders(card);
    if (card === state.cards[0]) updateFan();
    refresh();
  });
  remove.addEventListener("click", () => {
    if (state.cards.length === 1) return;
    state.cards.splice(state.cards.indexOf(card), 1);
    element.remove();
    recolour();
    updateFan();
    refresh();
  });
  buildSliders(card);
  recolour();
  return card;
}

function recolour() {
  state.cards.forEach((card, i) => {
    card.element.style.setProperty("--colour", PALETTE[i % PALETTE.length]);
    card.element.classList.toggle("dimmed", state.mode !== "paths" && i > 0);
  });
}

function updateFan() {
  const select = $("fan-name");
  const spec = optimizerSpec(state.cards[0].optimizer);
  const previous = select.value;
  select.replaceChildren(...spec.hyperparameters.map((h) => new Option(h.name, h.name)));
  if (spec.hyperparameters.some((h) => h.name === previous)) select.value = previous;
  fanDefaults();
}

function fanDefaults() {
  const spec = optimizerSpec(state.cards[0].optimizer);
  const h = spec.hyperparameters.find((p) => p.name === $("fan-name").value);
  if (!h) return;
  const value = state.cards[0].values[h.name];
  const [from, to] = h.log
    ? [Math.max(h.low, value / 30), Math.min(h.high, value * 30)]
    : [h.low, h.high];
  $("fan-from").value = round(from);
  $("fan-to").value = round(to);
  $("fan-log").checked = h.log;
}

// --- Animation ----------------------------------------------------------------

function stopAnimation() {
  if (state.playing !== null) clearInterval(state.playing);
  state.playing = null;
  $("play").textContent = "▶ animate";
}

function play() {
  if (state.playing !== null) {
    stopAnimation();
    return;
  }
  const records = numRecords();
  if (records < 2) return;
  const stride = Math.max(1, Math.round(records / 150));
  state.frame = 0;
  $("play").textContent = "■ stop";
  state.playing = setInterval(() => {
    state.frame = Math.min(records - 1, state.frame + stride);
    drawOverlay();
    if (state.frame >= records - 1) {
      stopAnimation();
      state.frame = null;
      drawOverlay();
    }
  }, 30);
}

// --- Events -------------------------------------------------------------------

async function selectLandscape(name) {
  state.landscape = name;
  state.starts = [surfaceInfo().start];
  state.basin.result = null;
  state.basinPath.start = null;
  state.basinPath.result = null;
  state.frame = null;
  $("source").textContent = surfaceInfo().source;
  state.surface = null;
  drawSurface();
  refresh();
  const surface = await api(`/api/surface?landscape=${encodeURIComponent(name)}&resolution=${SURFACE_RESOLUTION}`);
  if (surface.landscape !== state.landscape) return;
  state.surface = surface;
  drawSurface();
  drawOverlay();
}

function onPlotClick(event) {
  const rect = $("overlay").getBoundingClientRect();
  const u = ((event.clientX - rect.left) / rect.width) * 1000;
  const v = ((event.clientY - rect.top) / rect.height) * 1000;
  let point = fromView(u, v).map((c) => round(c, 5));
  if (state.mode === "basins") {
    const basin = state.basin.result;
    if (basin) { // Snap to the start of the pixel clicked.
      const [[x0, x1], [y0, y1]] = basin.bounds;
      const m = basin.resolution - 1;
      const j = Math.round(((point[0] - x0) / (x1 - x0)) * m);
      const i = Math.round(((point[1] - y0) / (y1 - y0)) * m);
      point = [x0 + (j / m) * (x1 - x0), y0 + (i / m) * (y1 - y0)];
    }
    state.basinPath.start = point;
    scheduleBasinPath();
    drawOverlay();
    return;
  }
  if (state.starts.length >= MAX_STARTS) state.starts.shift();
  state.starts.push(point);
  refresh();
}

function setMode(mode) {
  state.mode = mode;
  $("fan").hidden = mode !== "fan";
  $("basin").hidden = mode !== "basins";
  state.frame = null;
  recolour();
  drawSurface();
  refresh();
}

async function main() {
  state.options = await api("/api/options");
  const select = $("landscape");
  for (const name of state.options.landscapes) select.appendChild(new Option(name, name));
  const first = state.options.landscapes.includes("hills_and_canyon")
    ? "hills_and_canyon" : state.options.landscapes[0];
  select.value = first;
  const names = state.options.optimizers.map((o) => o.name);
  addCard(names.includes("nesterov_lookahead") ? "nesterov_lookahead" : names[0]);
  updateFan();
  select.addEventListener("change", () => selectLandscape(select.value));
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => radio.checked && setMode(radio.value));
  }
  // Debounced: typing 400 asks once, for 400 (not for 4 and 40 too).
  $("steps").addEventListener("input", debounced(() => {
    const steps = numSteps();
    if (steps >= 1 && steps <= state.options.limits.num_steps) refresh();
  }, TYPING_MS));
  $("add-optimizer").addEventListener("click", () => {
    const used = new Set(state.cards.map((c) => c.optimizer));
    addCard(names.find((n) => !used.has(n)) || names[0]);
    refresh();
  });
  for (const id of ["fan-from", "fan-to", "fan-count", "fan-log"]) {
    $(id).addEventListener("change", refresh);
  }
  $("fan-name").addEventListener("change", () => { fanDefaults(); refresh(); });
  $("resolution").addEventListener("change", refresh);
  $("clear").addEventListener("click", () => {
    state.starts = [];
    state.basinPath.start = null;
    state.basinPath.result = null;
    refresh();
  });
  $("play").addEventListener("click", play);
  $("frame").addEventListener("input", () => {
    stopAnimation();
    const value = Number($("frame").value);
    state.frame = value >= Number($("frame").max) ? null : value;
    drawOverlay();
  });
  $("overlay").addEventListener("click", onPlotClick);
  $("copy").addEventListener("click", copyPython);
  new ResizeObserver(() => drawSurface()).observe($("surface"));
  await selectLandscape(first);
  document.body.dataset.ready = "true";
}

main().catch((error) => setStatus(`could not start: ${error.message}`, true));
