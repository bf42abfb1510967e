"use strict";
/* Small SVG/HTML drawings: probability bars, line plots, label timelines, heat colours. */

const SVG_NS = "http://www.w3.org/2000/svg";
// matplotlib's tab10, the colours timeline.png uses
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf"];

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children.flat(Infinity)) if (child) node.append(child);
  return node;
}

/** Horizontal bars: one row per (name, probability). */
function probabilityBars(names, probabilities) {
  return el("div", {class: "bars", role: "list"}, names.map((name, i) => [
    el("span", {}, name),
    el("div", {class: "bar", role: "img",
               "aria-label": `${name}: ${(100 * probabilities[i]).toFixed(1)}%`},
       el("span", {style: {width: `${(100 * probabilities[i]).toFixed(2)}%`}})),
    el("span", {class: "probability", "data-label": name}, format(probabilities[i])),
  ]));
}

/** Lines of `series` (arrays of numbers, same length) in a w×h SVG; y scaled to their range
 * unless [lo, hi] is given. */
function linePlot(series, width, height, title, range, left) {
  left = left || 0;  // room on the left, e.g. to line up with a timeline's row names
  const n = Math.max(...series.map((s) => s.length), 1);
  let lo = range ? range[0] : Infinity, hi = range ? range[1] : -Infinity;
  if (!range) for (const s of series) for (const v of s) {
    if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const x = (i) => (n === 1 ? (left + width) / 2 : left + (i / (n - 1)) * (width - left));
  const y = (v) => height - 4 - ((v - lo) / (hi - lo)) * (height - 8);
  const lines = series.map((s, k) => svg("polyline", {
    fill: "none", stroke: PALETTE[k % PALETTE.length], "stroke-width": 1.2,
    points: s.map((v, i) => `${x(i).toFixed(1)},${y(Number.isFinite(v) ? v : lo).toFixed(1)}`)
      .join(" ")}));
  const grid = range ? [lo, (lo + hi) / 2, hi].map((v) => [
    svg("line", {x1: 0, x2: width, y1: y(v), y2: y(v), stroke: "#c9d1da",
                 "stroke-dasharray": v === lo || v === hi ? "" : "4 3"}),
    svg("text", {x: 2, y: y(v) + (v === hi ? 11 : -2), "font-size": 10, fill: "#4a5560"},
        String(v))]) : [];
  return svg("svg", {class: "plot", viewBox: `0 0 ${width} ${height}`, role: "img",
                     "aria-label": title}, svg("title", {}, title), grid, lines);
}

const TIMELINE_LEFT = 80;  // width of a timeline's row names

/** A strip of coloured cells, one per frame, coloured by label index; rows = [[name, ids]]. */
function labelTimeline(rows, names, width) {
  const rowHeight = 22, gap = 4, labelWidth = TIMELINE_LEFT;
  const frames = Math.max(...rows.map(([, ids]) => ids.length), 1);
  const cell = (width - labelWidth) / frames;
  const parts = [];
  rows.forEach(([rowName, ids], r) => {
    const top = r * (rowHeight + gap);
    parts.push(svg("text", {x: 0, y: top + 15, "font-size": 13, fill: "#1b1f24"}, rowName));
    let start = 0;  // one rectangle per run of equal labels
    for (let i = 1; i <= ids.length; i++) {
      if (i === ids.length || ids[i] !== ids[start]) {
        const rect = svg("rect", {x: (labelWidth + start * cell).toFixed(2), y: top,
          width: ((i - start) * cell).toFixed(2), height: rowHeight,
          fill: ids[start] < 0 ? "#ffffff" : PALETTE[ids[start] % PALETTE.length]});
        rect.append(svg("title", {}, `${names[ids[start]] || "?"}: frames ${start}–${i - 1}`));
        parts.push(rect);
        start = i;
      }
    }
  });
  const height = rows.length * (rowHeight + gap);
  return svg("svg", {class: "plot timeline", viewBox: `0 0 ${width} ${height}`, role: "img",
                     "aria-label": `labels of ${frames} frames`}, parts);
}

function legend(names) {
  return el("div", {class: "legend"}, names.map((name, i) => el("span", {},
    el("span", {class: "swatch", style: {background: PALETTE[i % PALETTE.length]}}), name)));
}

/** A token as shown in a table or chip: a space (character models) as "␣". */
function shownToken(token) {
  return token.trim() === "" ? "␣".repeat(Math.max(token.length, 1)) : token;
}

/** A weight in [0, 1] → a colour from white to dark blue, and a readable text colour. */
function heatColour(weight) {
  const w = Math.max(0, Math.min(1, weight));
  const mix = (a, b) => Math.round(a + (b - a) * w);
  return {background: `rgb(${mix(255, 8)}, ${mix(255, 48)}, ${mix(255, 107)})`,
          ink: w > 0.45 ? "#ffffff" : "#1b1f24"};
}
