// gradstack playground: the page's logic. Each panel calls one endpoint of the JSON API
// (apps/README.md) and draws its answer with SVG or canvas; streams (generation, PPLM) are
// server-sent events read from fetch(), so that Stop (an aborted fetch) ends the computation.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let model = null;

function svgEl(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
function show(text) { return JSON.stringify(text).slice(1, -1); }  // "\n" stays visible

async function postJson(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                body: JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw new Error(j.error + (j.field ? ` (field: ${j.field})` : ""));
  return j;
}

// POST a body and call onEvent(name, data) for each server-sent event until the stream ends.
async function postStream(path, body, onEvent, signal) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                body: JSON.stringify(body), signal });
  if (!r.ok) {
    const j = await r.json();
    throw new Error(j.error + (j.field ? ` (field: ${j.field})` : ""));
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, at);
      buf = buf.slice(at + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      onEvent(name, JSON.parse(data));
    }
  }
}

// ---- hover box for alternatives ----
function hoverOn(el, text) {
  el.addEventListener("mousemove", (ev) => {
    const h = $("hover");
    h.textContent = text;
    h.style.display = "block";
    h.style.left = (ev.clientX + 12) + "px";
    h.style.top = (ev.clientY + 12) + "px";
  });
  el.addEventListener("mouseleave", () => { $("hover").style.display = "none"; });
}

// Background for a probability: white at 1, dark orange towards 0 (log scale).
function probColor(p) {
  const t = Math.min(1, -Math.log10(Math.max(p, 1e-6)) / 4);
  return `hsl(30, 90%, ${Math.round(95 - 45 * t)}%)`;
}

// ---- 1. next-token probabilities ----
let nextSeq = 0, lastNext = null;
function sliderValues() {
  return { temperature: +$("temperature").value, top_k: +$("top_k").value,
           top_p: +$("top_p").value };
}
async function refreshNext() {
  const v = sliderValues();
  $("temperature-out").textContent = v.temperature;
  $("top_k-out").textContent = v.top_k === 0 ? "0 (off)" : v.top_k;
  $("top_p-out").textContent = v.top_p === 1 ? "1 (off)" : v.top_p;
  const seq = ++nextSeq;
  try {
    const r = await postJson("/api/next", { text: $("prompt").value, ...v, n: 20 });
    if (seq !== nextSeq) return;  // a newer request is on its way
    lastNext = r;
    drawTokens(r.ids);
    drawBars(r);
    drawTemperature(r, v.temperature);
  } catch (e) {
    $("token-strip").textContent = e.message;
  }
}
async function drawTokens(ids) {
  // Token texts come from the trace answer when available; here the ids alone are shown.
  const strip = $("token-strip");
  strip.textContent = `${ids.length} tokens: ${ids.join(" ")}`;
}
function drawBars(r) {
  const svg = $("next-bars");
  clear(svg);
  const rowH = 21, left = 130, width = 250;
  const maxP = Math.max(...r.top.map((t) => Math.max(t.prob, t.filtered_prob)), 1e-9);
  r.top.forEach((t, i) => {
    const y = i * rowH + 4;
    const g = svgEl("g", { class: "bar" + (t.kept ? "" : " removed"), "data-id": t.id,
                           "data-prob": t.prob, "data-filtered": t.filtered_prob }, svg);
    svgEl("text", { x: left - 6, y: y + 14, "text-anchor": "end",
                    fill: t.kept ? "#222" : "#aaa" }, g).textContent = show(t.text);
    svgEl("rect", { x: left, y, width: Math.max(1, width * t.filtered_prob / maxP),
                    height: rowH - 5, fill: t.kept ? "#1976d2" : "#ccc" }, g);
    svgEl("rect", { x: left, y, width: Math.max(1, width * t.prob / maxP), height: rowH - 5,
                    fill: "none", stroke: "#555", "stroke-dasharray": "3,2" }, g);
    svgEl("text", { x: left + width + 6, y: y + 14, fill: t.kept ? "#222" : "#aaa" }, g)
      .textContent = `${(100 * t.filtered_prob).toFixed(2)}%  (${(100 * t.prob).toFixed(2)}%)`;
    hoverOn(g, `id ${t.id} ${show(t.text)}\nsoftmax ${t.prob.toPrecision(4)}\n` +
               `after filters ${t.filtered_prob.toPrecision(4)}${t.kept ? "" : " (removed)"}`);
  });
}
// p_i(T) = softmax(log p_i / T) over the shown tokens: the plain softmax's log-probabilities are
// the logits up to a constant, which the softmax ignores.
function drawTemperature(r, current) {
  const svg = $("temp-curve");
  clear(svg);
  const W = 560, H = 200, L = 40, B = 24, logp = r.top.map((t) => Math.log(t.prob));
  const Ts = [];
  for (let T = 0.05; T <= 3.0001; T += 0.05) Ts.push(T);
  const at = (T) => {
    const z = logp.map((l) => l / T), m = Math.max(...z);
    const e = z.map((x) => Math.exp(x - m)), s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  };
  const curves = Ts.map(at);
  const x = (T) => L + (W - L - 110) * (T - 0.05) / 2.95, y = (p) => H - B - (H - B - 8) * p;
  svgEl("line", { x1: L, y1: H - B, x2: W - 110, y2: H - B, stroke: "#999" }, svg);
  svgEl("line", { x1: L, y1: 8, x2: L, y2: H - B, stroke: "#999" }, svg);
  svgEl("text", { x: L, y: H - 6 }, svg).textContent = "T = 0.05";
  svgEl("text", { x: W - 150, y: H - 6 }, svg).textContent = "T = 3";
  svgEl("text", { x: 2, y: 14 }, svg).textContent = "p=1";
  const colors = ["#d32f2f", "#1976d2", "#388e3c", "#f57c00", "#7b1fa2"];
  for (let k = 0; k < Math.min(5, logp.length); ++k) {
    const pts = curves.map((c, i) => `${x(Ts[i])},${y(c[k])}`).join(" ");
    svgEl("polyline", { points: pts, fill: "none", stroke: colors[k], "stroke-width": 2 }, svg);
    svgEl("text", { x: W - 104, y: 20 + 16 * k, fill: colors[k] }, svg).textContent =
      show(r.top[k].text);
  }
  svgEl("line", { x1: x(current), y1: 8, x2: x(current), y2: H - B, stroke: "#333",
                  "stroke-dasharray": "4,3", id: "temp-marker" }, svg);
}

// ---- 2. generation ----
let genAbort = null;
function genBody() {
  const s = $("strategy").value;
  const b = { text: $("prompt").value, strategy: s, max_new_tokens: +$("max_new_tokens").value,
              no_repeat_ngram_size: +$("no_repeat_ngram_size").value };
  if (s === "beam") {
    b.num_beams = +$("num_beams").value;
    b.num_return_sequences = +$("num_return_sequences").value;
  }
  if (s === "sample") {
    Object.assign(b, { temperature: +$("gen_temperature").value, top_k: +$("gen_top_k").value,
                       top_p: +$("gen_top_p").value, seed: +$("seed").value,
                       num_return_sequences: +$("num_return_sequences").value });
  }
  return b;
}
function strategyChanged() {
  const s = $("strategy").value;
  document.querySelectorAll(".beam-only").forEach((e) => { e.style.display = s === "beam" ? "" : "none"; });
  document.querySelectorAll(".sample-only").forEach((e) => { e.style.display = s === "sample" ? "" : "none"; });
  document.querySelectorAll(".multi-only").forEach((e) => { e.style.display = s === "greedy" ? "none" : ""; });
}
function seqBox(k, promptText) {
  let box = $(`gen-seq-${k}`);
  if (!box) {
    box = document.createElement("div");
    box.id = `gen-seq-${k}`;
    box.className = "gen-text";
    box.dataset.streamed = "";
    const p = document.createElement("span");
    p.className = "prompt-part";
    p.textContent = promptText;
    box.appendChild(p);
    $("gen-output").appendChild(box);
  }
  return box;
}
async function runGenerate() {
  $("gen-output").textContent = "";
  $("gen-status").textContent = "generating...";
  $("gen-run").disabled = true;
  $("gen-stop").disabled = false;
  genAbort = new AbortController();
  const promptText = $("prompt").value;
  const t0 = performance.now();
  let count = 0;
  try {
    await postStream("/api/generate", genBody(), (name, d) => {
      if (name === "token") {
        const box = seqBox(d.seq, promptText);
        const span = document.createElement("span");
        span.className = "tok";
        span.textContent = d.delta;  // the text this token completes (see apps/README.md)
        span.style.background = probColor(d.prob);
        box.appendChild(span);
        box.dataset.streamed += d.delta;
        hoverOn(span, `${show(d.text)}  p = ${d.prob.toPrecision(3)}\n` +
          d.top.map((a) => `${show(a.text).padEnd(14)} ${a.prob.toPrecision(3)}`).join("\n"));
        ++count;
      } else if (name === "done") {
        d.sequences.forEach((q, k) => {
          const box = seqBox(k, promptText);
          box.dataset.text = q.text;
          box.title = `score ${q.score.toFixed(4)}`;
        });
        $("gen-status").textContent =
          `done: ${count} tokens in ${((performance.now() - t0) / 1000).toFixed(2)} s`;
        $("gen-status").dataset.done = "1";
      } else if (name === "error") {
        $("gen-status").textContent = "error: " + d.error;
      }
    }, genAbort.signal);
  } catch (e) {
    $("gen-status").textContent = e.name === "AbortError" ? "stopped" : "error: " + e.message;
  }
  $("gen-run").disabled = false;
  $("gen-stop").disabled = true;
}

// ---- 3-5. trace: attention, logit lens, saliency ----
let lastTrace = null;
async function runTrace() {
  $("trace-error").textContent = "tracing...";
  try {
    const r = await postJson("/api/trace", { text: $("prompt").value,
                                             continuation: $("forced").value });
    lastTrace = r;
    $("trace-error").textContent = "";
    drawAttention(r);
    drawLens(r);
    drawSaliency(r);
  } catch (e) {
    $("trace-error").textContent = e.message;
  }
}
function heat(v) {  // 0 white .. 1 dark blue
  const c = Math.round(255 * (1 - Math.sqrt(v)));
  return [c, c, 255 - Math.round(90 * Math.sqrt(v))];
}
function drawAttention(r) {
  const grid = $("attn-grid");
  clear(grid);
  const L = r.attention.length, H = r.attention[0].length, T = r.tokens.length;
  grid.style.gridTemplateColumns = `40px repeat(${H}, 52px)`;
  grid.appendChild(document.createElement("span"));
  for (let h = 0; h < H; ++h) {
    const s = document.createElement("span");
    s.className = "label";
    s.textContent = `head ${h}`;
    grid.appendChild(s);
  }
  for (let l = 0; l < L; ++l) {
    const lab = document.createElement("span");
    lab.className = "label";
    lab.textContent = `layer ${l}`;
    grid.appendChild(lab);
    for (let h = 0; h < H; ++h) {
      const c = document.createElement("canvas");
      c.width = T;
      c.height = T;
      c.className = "attn-cell";
      c.dataset.layer = l;
      c.dataset.head = h;
      const ctx = c.getContext("2d"), img = ctx.createImageData(T, T);
      for (let i = 0; i < T; ++i)
        for (let j = 0; j < T; ++j) {
          const [R, G, B] = heat(r.attention[l][h][i][j]), o = 4 * (i * T + j);
          img.data[o] = R; img.data[o + 1] = G; img.data[o + 2] = B; img.data[o + 3] = 255;
        }
      ctx.putImageData(img, 0, 0);
      c.addEventListener("click", () => enlarge(l, h));
      grid.appendChild(c);
    }
  }
  enlarge(0, 0);
}
function enlarge(l, h) {
  const r = lastTrace, T = r.tokens.length, cell = Math.max(8, Math.min(22, 520 / T));
  document.querySelectorAll("#attn-grid canvas").forEach((c) =>
    c.classList.toggle("selected", +c.dataset.layer === l && +c.dataset.head === h));
  const labels = r.tokens.map((t) => show(t.text).slice(0, 10));
  const left = 80, top = 80, svg = $("attn-big");
  clear(svg);
  svg.setAttribute("width", left + T * cell + 10);
  svg.setAttribute("height", top + T * cell + 10);
  svg.dataset.layer = l;
  svg.dataset.head = h;
  $("attn-big-title").textContent = `layer ${l}, head ${h}: row = query token, column = key ` +
    "token (each row sums to 1; the model never looks ahead)";
  for (let i = 0; i < T; ++i) {
    svgEl("text", { x: left - 4, y: top + i * cell + cell * 0.7, "text-anchor": "end" }, svg)
      .textContent = labels[i];
    svgEl("text", { transform: `translate(${left + j2(i) },${top - 4}) rotate(-60)` }, svg)
      .textContent = labels[i];
    for (let j = 0; j < T; ++j) {
      const a = r.attention[l][h][i][j], [R, G, B] = heat(a);
      const rect = svgEl("rect", { x: left + j * cell, y: top + i * cell, width: cell - 1,
                                   height: cell - 1, fill: `rgb(${R},${G},${B})`,
                                   class: "attn-big-cell" }, svg);
      hoverOn(rect, `${labels[i]} -> ${labels[j]}: ${a.toFixed(4)}`);
    }
  }
  function j2(i) { return i * cell + cell * 0.6; }
}
function drawLens(r) {
  const box = $("lens");
  clear(box);
  const table = document.createElement("table"), T = r.tokens.length;
  const head = table.insertRow();
  head.appendChild(document.createElement("th")).textContent = "layer";
  for (let t = 0; t < T; ++t)
    head.appendChild(document.createElement("th")).textContent = show(r.tokens[t].text);
  for (let l = r.lens.length - 1; l >= 0; --l) {
    const row = table.insertRow();
    row.appendChild(document.createElement("th")).textContent = l === 0 ? "embed" : `${l}`;
    for (let t = 0; t < T; ++t) {
      const c = row.insertCell(), top = r.lens[l].top[t], rank = r.lens[l].next_rank[t];
      c.style.background = `hsl(210, 80%, ${Math.round(97 - 45 * top.prob)}%)`;
      c.textContent = show(top.text);
      if (rank !== null) {
        const s = document.createElement("div");
        s.className = "rank";
        s.textContent = `#${rank}`;
        c.appendChild(s);
      }
      hoverOn(c, `layer ${l}, after ${show(r.tokens[t].text)}\ntop ${show(top.text)} ` +
        `p=${top.prob.toPrecision(3)}` + (rank !== null ? `\nnext token ` +
        `${show(r.tokens[t + 1].text)}: rank ${rank}, p=${r.lens[l].next_prob[t].toPrecision(3)}` : ""));
    }
  }
  box.appendChild(table);
}
function drawSaliency(r) {
  const box = $("saliency"), mode = $("sal-mode").value;
  clear(box);
  const seq = r.tokens.slice();
  if (r.saliency.length && r.saliency[0].position === seq.length) seq.push(r.saliency[0]);
  for (const s of r.saliency) {
    const vals = s[mode], m = Math.max(...vals.map(Math.abs), 1e-12);
    const row = document.createElement("div");
    row.className = "row";
    for (let j = 0; j < s.position; ++j) {
      const span = document.createElement("span"), v = vals[j] / m;
      span.className = "tok";
      span.textContent = seq[j].text;
      span.style.background = v >= 0 ? `rgba(220,40,40,${Math.abs(v)})` : `rgba(40,80,220,${-v})`;
      hoverOn(span, `${mode} = ${vals[j].toPrecision(4)}`);
      row.appendChild(span);
    }
    const tgt = document.createElement("span");
    tgt.className = "tok target";
    tgt.textContent = s.text;
    hoverOn(tgt, `explained token, log p = ${s.logprob.toFixed(4)}`);
    row.appendChild(tgt);
    box.appendChild(row);
  }
}

// ---- 6. PPLM ----
async function runPplm() {
  const body = { text: $("prompt").value, stepsize: +$("pplm-stepsize").value,
                 num_iterations: +$("pplm-iterations").value, length: +$("pplm-length").value };
  if ($("pplm-bag").value) body.bags = [$("pplm-bag").value];
  if ($("pplm-discrim").value) body.discrim = $("pplm-discrim").value;
  if ($("pplm-class").value) body.class_label = $("pplm-class").value;
  $("pplm-plain").textContent = "";
  $("pplm-steered").textContent = "";
  $("pplm-status").textContent = "steering... (PPLM takes a few gradient steps per token)";
  try {
    await postStream("/api/pplm", body, (name, d) => {
      if (name === "token") {
        const span = document.createElement("span");
        span.className = "tok" + (d.in_bag ? " bag" : "");
        span.textContent = d.text;
        $(d.which === "plain" ? "pplm-plain" : "pplm-steered").appendChild(span);
      } else if (name === "done") {
        $("pplm-status").textContent = `bag words: plain ${d.plain.bag_hits}, steered ` +
          `${d.steered.bag_hits}; attribute loss: plain ${d.plain.attribute_loss.toFixed(3)}, ` +
          `steered ${d.steered.attribute_loss.toFixed(3)}`;
      } else if (name === "error") {
        $("pplm-status").textContent = "error: " + d.error;
      }
    });
  } catch (e) {
    $("pplm-status").textContent = "error: " + e.message;
  }
}

// ---- start ----
async function start() {
  const r = await fetch("/api/model");
  model = await r.json();
  const c = model.config;
  $("model-info").textContent = `${model.model_dir}: ${c.n_layer} layers, ${c.n_head} heads, ` +
    `n_embd ${c.n_embd}, context ${c.n_positions}, ${(model.parameters / 1e6).toFixed(2)}M ` +
    `parameters`;
  for (const b of model.bags) $("pplm-bag").appendChild(new Option(b, b));
  for (const d of model.discriminators) $("pplm-discrim").appendChild(new Option(d, d));
  let timer = null;
  $("prompt").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refreshNext, 250);
  });
  for (const id of ["temperature", "top_k", "top_p"]) $(id).addEventListener("input", refreshNext);
  $("strategy").addEventListener("change", strategyChanged);
  $("gen-run").addEventListener("click", runGenerate);
  $("gen-stop").addEventListener("click", () => genAbort && genAbort.abort());
  $("trace-run").addEventListener("click", runTrace);
  $("sal-run").addEventListener("click", runTrace);
  $("sal-mode").addEventListener("change", () => lastTrace && drawSaliency(lastTrace));
  $("pplm-run").addEventListener("click", runPplm);
  strategyChanged();
  await refreshNext();
  document.body.dataset.ready = "1";
}
start();
