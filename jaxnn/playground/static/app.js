// The jaxnn Playground page: draws what the server sends and sends the controls.
// The server holds the state and does the training (jaxnn); nothing here trains.

const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REGULARIZATION_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const ACTIVATIONS = {
  relu: "ReLU", tanh: "Tanh", sigmoid: "Sigmoid", linear: "Linear",
  leaky_relu: "Leaky ReLU", elu: "ELU", softplus: "Softplus", step: "Step (perceptron)",
};
const DATASETS = {
  classification: { circle: "Circle", xor: "Exclusive or", gaussian: "Gaussian", spiral: "Spiral" },
  regression: { plane: "Plane", multigauss: "Multi Gaussian" },
};
const FEATURES = {
  "x1": { label: "X<sub>1</sub>", f: (a, b) => a / 6 },
  "x2": { label: "X<sub>2</sub>", f: (a, b) => b / 6 },
  "x1^2": { label: "X<sub>1</sub><sup>2</sup>", f: (a, b) => a * a / 18 - 1 },
  "x2^2": { label: "X<sub>2</sub><sup>2</sup>", f: (a, b) => b * b / 18 - 1 },
  "x1x2": { label: "X<sub>1</sub>X<sub>2</sub>", f: (a, b) => a * b / 18 },
  "sin_x1": { label: "sin(X<sub>1</sub>)", f: (a, b) => Math.sin(a) },
  "sin_x2": { label: "sin(X<sub>2</sub>)", f: (a, b) => Math.sin(b) },
};
const EXTENT = 6;
const NEG = [245, 147, 34]; // orange: -1
const MID = [232, 234, 235];
const POS = [8, 119, 189]; // blue: +1

const $ = (id) => document.getElementById(id);
const state = {
  settings: null, session: null, playing: false, frame: null, points: null,
  pendingFrame: null, autoplay: false, started: false, codeEpoch: -1,
};
let socket = null;

// ---- colours and heat maps ------------------------------------------------------------------

function colour(v) {
  const t = Math.max(-1, Math.min(1, v));
  const [a, b] = t < 0 ? [MID, NEG] : [MID, POS];
  const s = Math.abs(t);
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * s));
}

function decode(b64) {
  const bytes = atob(b64);
  const values = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) values[i] = bytes.charCodeAt(i) / 127.5 - 1;
  return values;
}

function drawHeatmap(canvas, values, { discretize = false } = {}) {
  const n = Math.round(Math.sqrt(values.length));
  const small = document.createElement("canvas");
  small.width = n; small.height = n;
  const ctx = small.getContext("2d");
  const image = ctx.createImageData(n, n);
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    if (discretize) v = v >= 0 ? 1 : -1;
    const [r, g, b] = colour(v);
    image.data.set([r, g, b, 160], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
  const target = canvas.getContext("2d");
  target.clearRect(0, 0, canvas.width, canvas.height);
  target.imageSmoothingEnabled = true;
  target.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function featureValues(name, n) {
  const values = new Float32Array(n * n);
  const f = FEATURES[name].f;
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      const x1 = ((col + 0.5) / n) * 2 * EXTENT - EXTENT;
      const x2 = EXTENT - ((row + 0.5) / n) * 2 * EXTENT;
      values[row * n + col] = Math.max(-1, Math.min(1, f(x1, x2)));
    }
  }
  return values;
}

function drawPoints(canvas, points, { test = false } = {}) {
  const ctx = canvas.getContext("2d");
  const scale = canvas.width / (2 * EXTENT);
  const classification = state.settings.problem === "classification";
  for (const [x1, x2, y] of points) {
    const v = classification ? 2 * y - 1 : y;
    const [r, g, b] = colour(v);
    ctx.beginPath();
    ctx.arc((x1 + EXTENT) * scale, (EXTENT - x2) * scale, test ? 3.2 : 3, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fill();
    ctx.lineWidth = test ? 1.5 : 1;
    ctx.strokeStyle = test ? "black" : "white";
    ctx.stroke();
  }
}

// ---- the network column ---------------------------------------------------------------------

function neuronCanvas(id, size) {
  const canvas = document.createElement("canvas");
  canvas.width = size; canvas.height = size;
  canvas.className = "node";
  canvas.dataset.node = id;
  return canvas;
}

function buildFeatures() {
  const box = $("features");
  box.innerHTML = "";
  for (const name of Object.keys(FEATURES)) {
    const row = document.createElement("div");
    row.className = "feature" + (state.settings.features.includes(name) ? " on" : "");
    row.title = "click to use or drop this input feature";
    row.dataset.feature = name;
    const label = document.createElement("span");
    label.className = "feature-label";
    label.innerHTML = FEATURES[name].label;
    const canvas = neuronCanvas(`in:${name}`, 34);
    drawHeatmap(canvas, featureValues(name, 20));
    row.append(label, canvas);
    row.addEventListener("click", () => toggleFeature(name));
    box.append(row);
  }
}

function buildHidden() {
  const box = $("hidden");
  box.innerHTML = "";
  const hidden = state.settings.hidden;
  $("layer_count").textContent = hidden.length;
  $("add_layer").disabled = hidden.length >= 6;
  $("remove_layer").disabled = hidden.length === 0;
  hidden.forEach((width, layer) => {
    const column = document.createElement("div");
    column.className = "layer hidden-layer";
    const buttons = document.createElement("div");
    buttons.className = "neuron-buttons";
    const plus = document.createElement("button");
    plus.textContent = "+"; plus.title = "add a neuron"; plus.disabled = width >= 8;
    plus.setAttribute("aria-label", `add neuron to layer ${layer + 1}`);
    plus.addEventListener("click", () => changeNeurons(layer, +1));
    const minus = document.createElement("button");
    minus.textContent = "\u2212"; minus.title = "remove a neuron"; minus.disabled = width <= 1;
    minus.setAttribute("aria-label", `remove neuron from layer ${layer + 1}`);
    minus.addEventListener("click", () => changeNeurons(layer, -1));
    buttons.append(plus, minus);
    const count = document.createElement("div");
    count.className = "neuron-count";
    count.textContent = `${width} neuron${width === 1 ? "" : "s"}`;
    const nodes = document.createElement("div");
    nodes.className = "nodes";
    for (let j = 0; j < width; j++) nodes.append(neuronCanvas(`h:${layer}:${j}`, 34));
    column.append(buttons, count, nodes);
    box.append(column);
  });
  const out = document.createElement("div");
  out.className = "layer output-node";
  const node = document.createElement("div");
  node.className = "node out";
  node.dataset.node = "out";
  node.title = "the output neuron (its heat map is the big one on the right)";
  out.append(node);
  box.append(out);
}

function nodeCentre(id, side, base) {
  const el = document.querySelector(`[data-node="${id}"]`);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  return { x: (side === "left" ? r.left : r.right) - base.left, y: r.top + r.height / 2 - base.top };
}

function drawLinks() {
  const svg = $("links");
  const frame = state.frame;
  svg.innerHTML = "";
  if (!frame || !state.settings) return;
  const base = $("network").getBoundingClientRect();
  svg.setAttribute("width", base.width); svg.setAttribute("height", base.height);
  const layers = [
    state.settings.features.map((f) => `in:${f}`),
    ...state.settings.hidden.map((w, l) => Array.from({ length: w }, (_, j) => `h:${l}:${j}`)),
    ["out"],
  ];
  frame.weights.forEach((layer, l) => {
    layer.w.forEach((row, i) => {
      row.forEach((w, j) => {
        const a = nodeCentre(layers[l][i], "right", base);
        const b = nodeCentre(layers[l + 1][j], "left", base);
        if (!a || !b) return;
        const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
        const mx = (a.x + b.x) / 2;
        path.setAttribute("d", `M${a.x},${a.y} C${mx},${a.y} ${mx},${b.y} ${b.x},${b.y}`);
        const [r, g, bl] = colour(w > 0 ? 1 : -1);
        path.setAttribute("stroke", `rgb(${r},${g},${bl})`);
        path.setAttribute("stroke-width", Math.min(10, 0.5 + 2 * Math.abs(w)).toFixed(2));
        path.setAttribute("class", "link");
        path.dataset.weight = `weight ${w.toFixed(3)} (${describe(layers[l][i])} \u2192 ${describe(layers[l + 1][j])})`;
        svg.append(path);
      });
    });
  });
}

function describe(id) {
  if (id === "out") return "output";
  const [kind, a, b] = id.split(":");
  if (kind === "in") return a;
  return `layer ${Number(a) + 1}, neuron ${Number(b) + 1}`;
}

// ---- drawing a frame ------------------------------------------------------------------------

function formatLoss(v) {
  return Number.isFinite(v) ? v.toFixed(3) : "NaN";
}

function drawLossCurve(history) {
  const canvas = $("loss_curve");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (history.length < 2) return;
  const finite = history.flatMap((h) => [h[1], h[2]]).filter(Number.isFinite);
  const top = Math.max(...finite, 1e-6);
  const x = (i) => (i / (history.length - 1)) * (canvas.width - 2) + 1;
  const y = (v) => canvas.height - 2 - (Math.min(v, top) / top) * (canvas.height - 4);
  for (const [index, style] of [[2, "#999"], [1, "#222"]]) {
    ctx.beginPath();
    history.forEach((h, i) => (i ? ctx.lineTo(x(i), y(h[index])) : ctx.moveTo(x(i), y(h[index]))));
    ctx.strokeStyle = style; ctx.lineWidth = 1.5; ctx.stroke();
  }
}

function drawBoundary() {
  const canvas = $("boundary");
  if (!state.frame) return;
  drawHeatmap(canvas, decode(state.frame.output), { discretize: $("discretize").checked });
  if (state.points) {
    drawPoints(canvas, state.points.train);
    if ($("show_test").checked) drawPoints(canvas, state.points.test, { test: true });
  }
}

function drawFrame(frame) {
  state.frame = frame;
  $("epoch").textContent = String(frame.epoch).padStart(6, "0").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  $("train_loss").textContent = formatLoss(frame.train_loss);
  $("test_loss").textContent = formatLoss(frame.test_loss);
  drawLossCurve(frame.history);
  drawBoundary();
  frame.neurons.forEach((layer, l) => layer.forEach((b64, j) => {
    const canvas = document.querySelector(`[data-node="h:${l}:${j}"]`);
    if (canvas) drawHeatmap(canvas, decode(b64));
  }));
  drawLinks();
  if (!state.playing) refreshCode();
}

function scheduleFrame(frame) {
  const first = state.pendingFrame === null;
  state.pendingFrame = frame;
  if (!first) return;
  requestAnimationFrame(() => {
    const next = state.pendingFrame;
    state.pendingFrame = null;
    drawFrame(next);
    send({ type: "ack" });
  });
}

// ---- the controls ---------------------------------------------------------------------------

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function change(values) {
  send({ type: "settings", values });
}

function toggleFeature(name) {
  const features = new Set(state.settings.features);
  if (features.has(name)) features.delete(name); else features.add(name);
  if (features.size === 0) { showNotes(["the network needs at least one input feature."], true); return; }
  change({ features: Object.keys(FEATURES).filter((f) => features.has(f)).join(",") });
}

function changeNeurons(layer, delta) {
  const hidden = [...state.settings.hidden];
  hidden[layer] = Math.max(1, Math.min(8, hidden[layer] + delta));
  change({ hidden: hidden.join(",") });
}

function fillSelect(id, options) {
  const select = $(id);
  select.innerHTML = "";
  for (const [value, label] of options) {
    const option = document.createElement("option");
    option.value = value; option.textContent = label;
    select.append(option);
  }
}

function buildDatasets() {
  const box = $("datasets");
  box.innerHTML = "";
  for (const [name, label] of Object.entries(DATASETS[state.settings.problem])) {
    const button = document.createElement("button");
    button.className = "dataset" + (name === state.settings.dataset ? " selected" : "");
    button.dataset.dataset = name;
    button.textContent = label;
    button.title = label;
    button.addEventListener("click", () => change({ dataset: name }));
    box.append(button);
  }
}

function setupControls() {
  fillSelect("learning_rate", LEARNING_RATES.map((r) => [String(r), String(r)]));
  fillSelect("regularization_rate", REGULARIZATION_RATES.map((r) => [String(r), String(r)]));
  fillSelect("activation", Object.entries(ACTIVATIONS));
  for (const id of ["learning_rate", "activation", "regularization", "regularization_rate", "problem"]) {
    $(id).addEventListener("change", () => change({ [id]: $(id).value }));
  }
  for (const id of ["train_percent", "noise", "batch_size"]) {
    $(id).addEventListener("input", () => { $(`${id}_value`).textContent = $(id).value; });
    $(id).addEventListener("change", () => change({ [id]: $(id).value }));
  }
  $("play").addEventListener("click", () => send({ type: state.playing ? "pause" : "play" }));
  $("step").addEventListener("click", () => send({ type: "step" }));
  $("reset").addEventListener("click", () => send({ type: "reset" }));
  $("regenerate").addEventListener("click", () => send({ type: "regenerate" }));
  $("add_layer").addEventListener("click", () => {
    if (state.settings.hidden.length < 6) change({ hidden: [...state.settings.hidden, 2].join(",") });
  });
  $("remove_layer").addEventListener("click", () => {
    change({ hidden: state.settings.hidden.slice(0, -1).join(",") });
  });
  $("show_test").addEventListener("change", drawBoundary);
  $("discretize").addEventListener("change", drawBoundary);
  $("copy_code").addEventListener("click", async () => {
    await refreshCode(true);
    try { await navigator.clipboard.writeText($("code").textContent); showNotes(["code copied."]); }
    catch { showNotes(["select the code below and copy it (the clipboard is not available here)."]); }
  });
  $("links").addEventListener("mousemove", hover);
  $("links").addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
  window.addEventListener("resize", drawLinks);
  // A TensorFlow Playground fragment pasted onto the open page's address.
  window.addEventListener("hashchange", async () => {
    if (window.location.hash.length > 1) change(await readTfLink({}));
  });
  $("tf_notice_close").addEventListener("click", () => { $("tf_notice").hidden = true; });
  const legend = $("legend");
  const values = new Float32Array(160 * 160);
  for (let i = 0; i < values.length; i++) values[i] = ((i % 160) / 159) * 2 - 1;
  drawHeatmap(legend, values);
}

function hover(event) {
  const tip = $("tooltip");
  const target = event.target;
  if (!target.dataset || !target.dataset.weight) { tip.hidden = true; return; }
  tip.textContent = target.dataset.weight;
  tip.style.left = `${event.pageX + 12}px`;
  tip.style.top = `${event.pageY + 12}px`;
  tip.hidden = false;
}

function applySettings(query, notes) {
  const settings = {
    ...query,
    features: query.features.split(",").filter(Boolean),
    hidden: query.hidden ? query.hidden.split(",").map(Number) : [],
  };
  state.settings = settings;
  state.query = query;
  for (const id of ["learning_rate", "activation", "regularization", "regularization_rate", "problem"]) {
    $(id).value = query[id];
  }
  for (const id of ["train_percent", "noise", "batch_size"]) {
    $(id).value = query[id];
    $(`${id}_value`).textContent = query[id];
  }
  buildDatasets();
  buildFeatures();
  buildHidden();
  const url = new URL(window.location.href);
  url.search = new URLSearchParams(query).toString();
  url.hash = ""; // a TensorFlow Playground fragment, once read, lives on in the query
  window.history.replaceState(null, "", url);
  state.codeEpoch = -1;
  if (notes.length) showNotes(notes, true);
}

function showNotes(lines, warning = false, sticky = false) {
  const box = $("notes");
  box.textContent = lines.join(" ");
  box.className = "notes" + (warning ? " warning" : "");
  box.hidden = false;
  clearTimeout(showNotes.timer);
  if (!sticky) showNotes.timer = setTimeout(() => { box.hidden = true; }, warning ? 12000 : 3000);
}

async function refreshCode(force = false) {
  if (!state.query || !state.frame) return;
  if (!force && state.codeEpoch === state.frame.epoch) return;
  state.codeEpoch = state.frame.epoch;
  const params = new URLSearchParams({ ...state.query, epochs: String(state.frame.epoch) });
  const response = await fetch(`/api/code?${params}`);
  $("code").textContent = await response.text();
}

function setPlaying(playing) {
  state.playing = playing;
  $("play").innerHTML = playing ? "&#x275A;&#x275A;" : "&#x25B6;";
  $("play").classList.toggle("playing", playing);
  $("play").setAttribute("aria-label", playing ? "pause" : "play");
  if (!playing) refreshCode();
}

// ---- links from the TensorFlow Playground ---------------------------------------------------

// playground.tensorflow.org keeps its state in the fragment (#activation=tanh&networkShape=4,2&...).
// The server reads it (GET /api/settings?tf_hash=...); the page applies what it maps, on top of
// which the query's own controls win, and lists on the page the keys it could not apply.
async function readTfLink(values) {
  const hash = window.location.hash.slice(1);
  if (!hash) return values;
  let reply;
  try {
    const response = await fetch(`/api/settings?${new URLSearchParams({ tf_hash: hash })}`);
    if (!response.ok) {
      const reason = await response.text();
      showTfNotice(`This TensorFlow Playground link could not be read: ${reason}`, { failed: true });
      return values;
    }
    reply = await response.json();
  } catch (error) {
    showTfNotice(`This TensorFlow Playground link could not be read: ${error}`, { failed: true });
    return values;
  }
  $("show_test").checked = reply.view.show_test;
  $("discretize").checked = reply.view.discretize;
  showTfNotice("Settings read from a TensorFlow Playground link.", reply);
  return { ...reply.settings, ...values };
}

function showTfNotice(summary, { unmapped = [], notes = [], failed = false } = {}) {
  const items = [
    ...unmapped.map(({ key, value, reason }) => [`${key}=${value}`, `not applied: ${reason}.`]),
    ...notes.map((note) => [null, note]),
  ];
  let text = summary;
  if (unmapped.length) text += ` ${unmapped.length} of its settings could not be applied here:`;
  else if (!failed) text += notes.length ? " Some values were changed to fit:" : " Every setting was applied.";
  $("tf_notice_text").textContent = text;
  const list = $("tf_unmapped");
  list.innerHTML = "";
  for (const [code, line] of items) {
    const item = document.createElement("li");
    if (code !== null) {
      const key = document.createElement("code");
      key.textContent = code;
      item.append(key, " ");
    }
    item.append(line);
    list.append(item);
  }
  $("tf_notice").className = "notes tf-notice" + (items.length || failed ? " warning" : "");
  $("tf_notice").hidden = false;
}

// ---- the connection -------------------------------------------------------------------------

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${window.location.host}/ws`);
  socket.addEventListener("open", async () => {
    const values = Object.fromEntries(new URLSearchParams(window.location.search));
    state.autoplay = values.autoplay === "1";
    delete values.autoplay;
    change(await readTfLink(values));
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    switch (message.type) {
      case "hello":
        state.session = message.session;
        $("save").href = `/api/sessions/${message.session}/model.jaxnn`;
        break;
      case "settings": applySettings(message.settings, message.notes); break;
      case "points": state.points = message; break;
      case "frame":
        scheduleFrame(message);
        if (state.autoplay && !state.started) { state.started = true; send({ type: "play" }); }
        break;
      case "state": setPlaying(message.playing); break;
      case "error":
        if (state.query) { showNotes([message.message], true); break; }
        // A hand-edited link the server refused: say why, and start from the defaults instead
        // of leaving an empty page.
        showNotes([`${message.message} Starting with the default settings.`], true, true);
        change({});
        break;
      default: break;
    }
  });
  socket.addEventListener("close", () => {
    setPlaying(false);
    showNotes(["the connection to the server closed; reload the page to train again."], true);
  });
}

setupControls();
connect();
