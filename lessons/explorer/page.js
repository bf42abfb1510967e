"use strict";
// The explorer page: LSTMVis's select view, match view and line plot over the embedded
// activations. The rules (selectCells, findMatches) are those of
// lessons/explorer/rules.py, on the same integers; a browser test checks they agree.

// ---- the rules ---------------------------------------------------------------------
// v: activations, unit-major (v[c * T + t]), already multiplied by the sign.
function selectCells(v, T, H, start, end, thr, after) {
  const out = [];
  if (!(0 <= start && start < end && end <= T)) return out;
  for (let c = 0; c < H; c++) {
    const o = c * T;
    if (start > 0 && v[o + start - 1] >= thr) continue;
    if (after && end < T && v[o + end] >= thr) continue;
    let on = true;
    for (let t = start; t < end && on; t++) on = v[o + t] >= thr;
    if (on) out.push(c);
  }
  return out;
}

function findMatches(v, T, cells, start, end, thr, after, top) {
  const length = end - start;
  if (!cells.length || length < 1) return [];
  const slack = Math.max(1, Math.floor(length / 4));
  const lo = Math.max(1, length - slack), hi = length + slack;
  const runs = new Map();  // start -> run lengths of the cells that turn on there
  for (const c of cells) {
    const o = c * T;
    for (let t = 0; t < T;) {
      if (v[o + t] < thr) { t++; continue; }
      let e = t;
      while (e < T && v[o + e] >= thr) e++;
      if (!runs.has(t)) runs.set(t, []);
      runs.get(t).push(e - t);
      t = e;
    }
  }
  const places = [];
  for (const [s, ns] of runs) {
    if (s === start) continue;
    let best = 0, bestScore = -1;
    for (let n = lo; n <= hi; n++) {
      let score = 0;
      for (const r of ns) if (after ? r === n : r >= n) score++;
      const d = Math.abs(n - length), bd = Math.abs(best - length);
      if (score > bestScore || (score === bestScore && (d < bd || (d === bd && n < best)))) {
        best = n; bestScore = score;
      }
    }
    if (bestScore > 0) places.push([s, best, bestScore]);
  }
  places.sort((a, b) => b[2] - a[2] || Math.abs(a[1] - length) - Math.abs(b[1] - length)
                        || a[0] - b[0]);
  return places.slice(0, top === undefined ? 20 : top);
}

// ---- the page ----------------------------------------------------------------------
const DATA = JSON.parse(document.getElementById("data").textContent);
const T = DATA.tokens.length, H = DATA.units, CONTEXT = 30;
const PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                 "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const state = {start: 0, end: 0, thr: 64, after: false, sign: 1, unit: 0, cells: [],
               matches: [], focus: -1};
let q = null, v = null, spans = [];
const $ = (id) => document.getElementById(id);

async function inflate(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Int8Array(await new Response(stream).arrayBuffer());
}

function el(tag, attrs, text) {
  const node = document.createElementNS(tag === "svg" || attrs.svg ?
    "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
  for (const [k, val] of Object.entries(attrs)) if (k !== "svg") node.setAttribute(k, val);
  if (text !== undefined) node.textContent = text;
  return node;
}

const ENDS = new Set(DATA.ends);

function snippet(s, n) {  // tokens s … s+n-1 as text; "↵" at line and sequence ends
  const sep = DATA.kind === "words" ? " " : "";
  return DATA.tokens.slice(s, s + n).map((tok, k) =>
    tok === "\n" ? "↵" : tok + (ENDS.has(s + k) ? "↵" : "")).join(sep);
}

function renderText() {
  const box = $("text"), frag = document.createDocumentFragment();
  box.classList.add(DATA.kind);
  const sep = DATA.kind === "words" ? " " : "";
  DATA.tokens.forEach((tok, i) => {
    const shown = tok === "\n" ? "↵\n" : tok + (ENDS.has(i) ? "\n" : sep);
    const span = el("span", {class: "t", "data-i": i}, shown);
    spans.push(span);
    frag.appendChild(span);
  });
  box.appendChild(frag);
}

function colour() {
  const o = state.unit * T;
  for (let t = 0; t < T; t++) {
    const x = v[o + t] / 127;
    spans[t].style.background = x > 0 ? `rgba(220,40,40,${x.toFixed(2)})`
                                      : `rgba(40,80,220,${(-x).toFixed(2)})`;
  }
  $("unit").value = state.unit;
}

function mark() {
  for (const s of document.querySelectorAll("#text .sel, #text .match, #text .focus"))
    s.classList.remove("sel", "match", "focus");
  for (let t = state.start; t < state.end; t++) spans[t].classList.add("sel");
  state.matches.forEach(([s, n], k) => {
    for (let t = s; t < s + n; t++) spans[t].classList.add(k === state.focus ? "focus" : "match");
  });
}

function update() {
  state.cells = selectCells(v, T, H, state.start, state.end, state.thr, state.after);
  state.matches = findMatches(v, T, state.cells, state.start, state.end, state.thr,
                              state.after, 20);
  state.focus = -1;
  $("threshold").value = state.thr;
  $("threshold-value").textContent = (state.thr * DATA.scale / 127).toFixed(3);
  $("after").checked = state.after;
  $("sign").value = String(state.sign);
  const n = state.end - state.start;
  $("selection").textContent = n > 0 ?
    `steps ${state.start}–${state.end - 1} (${n}): “${snippet(state.start, n)}”` :
    "none: select a span of the text with the mouse";
  const cells = $("cells");
  cells.replaceChildren(...state.cells.map((c) => {
    const li = el("li", {"data-cell": c}, String(c));
    li.onclick = () => { state.unit = c; colour(); };
    return li;
  }));
  $("cell-count").textContent = String(state.cells.length);
  const list = $("matches");
  list.replaceChildren(...state.matches.map(([s, n, score], k) => {
    const li = el("li", {"data-start": s, "data-length": n, "data-score": score});
    const gap = DATA.kind === "words" ? " " : "", from = Math.max(0, s - (gap ? 2 : 4));
    const code = el("code", {}, snippet(from, s - from) + gap);
    code.append(el("mark", {}, snippet(s, n)), gap + snippet(s + n, 4));
    li.append(el("b", {}, `${score}/${state.cells.length}`), ` step ${s}: `, code);
    li.title = snippet(s, n);
    li.onclick = () => { state.focus = k; mark(); spans[s].scrollIntoView({block: "center"}); };
    return li;
  }));
  mark();
  plot();
}

function plot() {
  // Drawn in the element's own pixels (no stretching): labels keep their shape.
  const svg = $("plot"), W = Math.max(400, svg.clientWidth || 800), Hp = 200, pad = 30;
  svg.setAttribute("viewBox", `0 0 ${W} ${Hp}`);
  svg.replaceChildren();
  $("plot-legend").replaceChildren(...state.cells.slice(0, 40).map((c, k) =>
    el("span", {style: `color:${PALETTE[k % PALETTE.length]}`}, `━ cell ${c}`)));
  if (!state.cells.length) {
    svg.append(el("text", {svg: 1, x: pad, y: Hp / 2}, "no cells selected"));
    return;
  }
  const a = Math.max(0, state.start - CONTEXT), b = Math.min(T, state.end + CONTEXT);
  const x = (t) => pad + (t - a + 0.5) * (W - 2 * pad) / (b - a);
  const y = (val) => Hp / 2 - val / 127 * (Hp / 2 - 12);
  svg.append(el("rect", {svg: 1, x: x(state.start - 0.5), y: 4, class: "span",
                         width: x(state.end) - x(state.start), height: Hp - 8}));
  svg.append(el("line", {svg: 1, x1: pad, x2: W - pad, y1: y(0), y2: y(0), class: "axis"}));
  svg.append(el("line", {svg: 1, x1: pad, x2: W - pad, y1: y(state.thr), y2: y(state.thr),
                         class: "thr"}));
  state.cells.slice(0, 40).forEach((c, k) => {
    const pts = [];
    for (let t = a; t < b; t++) pts.push(`${x(t).toFixed(1)},${y(v[c * T + t]).toFixed(1)}`);
    const line = el("polyline", {svg: 1, points: pts.join(" "), "data-cell": c,
                                 stroke: PALETTE[k % PALETTE.length]});
    line.append(el("title", {svg: 1}, `cell ${c}`));
    svg.append(line);
  });
  // Token labels along the bottom: every `every`-th step, so that none overlap.
  const widest = Math.min(8, Math.max(...DATA.tokens.slice(a, b).map((tok) => tok.length)));
  const every = Math.ceil((widest * 5.6 + 4) / ((W - 2 * pad) / (b - a)));
  for (let t = a; t < b; t += every) {
    svg.append(el("text", {svg: 1, x: x(t), y: Hp - 2, class: "tok"},
                  DATA.tokens[t] === "\n" ? "↵" : DATA.tokens[t].slice(0, 8)));
  }
}

function spanOfSelection() {
  const sel = window.getSelection();
  if (!sel.rangeCount || sel.isCollapsed) return null;
  const r = sel.getRangeAt(0);
  const token = (node, offset, isEnd) => {
    if (node.nodeType !== 3) {  // an element: the child at offset
      const child = node.childNodes[Math.min(offset, node.childNodes.length - 1)];
      const i = child && child.closest ? child.closest(".t") : null;
      if (!i) return null;
      return Number(i.dataset.i) + (isEnd && offset >= node.childNodes.length ? 1 : 0);
    }
    const span = node.parentElement.closest(".t");
    if (!span) return null;
    const i = Number(span.dataset.i), len = DATA.tokens[i].length;
    if (isEnd) return offset === 0 ? i : i + 1;
    return offset >= len ? i + 1 : i;
  };
  const s = token(r.startContainer, r.startOffset, false);
  const e = token(r.endContainer, r.endOffset, true);
  return s === null || e === null || e <= s ? null : [s, Math.min(e, T)];
}

function applyHypothesis(h) {
  state.unit = h.unit; state.sign = h.sign;
  v = signed(h.sign);
  if (h.start !== null) { state.start = h.start; state.end = h.end; state.thr = h.threshold; }
  colour();
  update();
  if (h.start !== null) spans[h.start].scrollIntoView({block: "center"});
}

function signed(sign) {
  const out = new Int16Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = sign * q[i];
  return out;
}

function hypotheses() {
  const box = $("hypotheses");
  for (const h of DATA.hypotheses) {
    const li = el("li", {"data-name": h.name});
    const b = el("button", {type: "button"}, h.start === null ? "colour" : "show");
    b.onclick = () => applyHypothesis(h);
    li.append(b, " ", el("b", {}, h.name), `: cell ${h.unit} (r = ${h.r.toFixed(2)}` +
              `${h.sign < 0 ? ", sign flipped" : ""}). ${h.note}`);
    box.append(li);
  }
}

async function main() {
  $("title").textContent = DATA.title;
  $("about").textContent = DATA.about;
  $("unit").max = H - 1;
  q = await inflate(DATA.q);
  v = signed(1);
  renderText();
  hypotheses();
  $("text").addEventListener("mouseup", () => {
    const span = spanOfSelection();
    if (!span) return;
    [state.start, state.end] = span;
    window.getSelection().removeAllRanges();
    update();
  });
  $("threshold").addEventListener("input", (e) => { state.thr = Number(e.target.value); update(); });
  $("after").addEventListener("change", (e) => { state.after = e.target.checked; update(); });
  $("sign").addEventListener("change", (e) => {
    state.sign = Number(e.target.value); v = signed(state.sign); colour(); update();
  });
  $("unit").addEventListener("change", (e) => {
    state.unit = Math.min(H - 1, Math.max(0, Number(e.target.value) || 0)); colour();
  });
  const first = DATA.hypotheses.find((h) => h.initial);
  if (first) applyHypothesis(first); else { colour(); update(); }
  document.body.dataset.ready = "1";
}

window.lstmvis = {selectCells, findMatches, state, data: DATA,
                  values: () => v, sign: (s) => { state.sign = s; v = signed(s); }};
main().catch((e) => { $("about").textContent = "cannot show the activations: " + e; });
