// Small SVG charts for the mlmon dashboard: lines over time, bars, grouped bars and a
// timeline. Drawn by hand so the page needs no third-party library and no network.
// Each chart replaces the <svg> of its <figure> and records how many marks it drew in
// data-marks (0 when there is nothing to show, with a "no data yet" note).

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 560;
const HEIGHT = 220;
const MARGIN = { top: 14, right: 84, bottom: 28, left: 60 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const LABEL_H = 13; // the height of one line of label text

function el(tag, attrs, parent) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, x, y, content, attrs) {
  const node = el("text", { x, y, ...(attrs || {}) }, parent);
  node.textContent = content;
  return node;
}

function titled(node, content) {
  const title = el("title", {}, node);
  title.textContent = content;
  return node;
}

function newSvg(figure, label) {
  const old = figure.querySelector("svg");
  if (old) old.remove();
  const svg = el("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": label,
    class: "chart-svg",
  });
  figure.appendChild(svg);
  return svg;
}

function finish(figure, svg, marks) {
  figure.dataset.marks = String(marks);
  if (marks === 0) {
    text(svg, MARGIN.left + PLOT_W / 2, MARGIN.top + PLOT_H / 2, "no data yet", {
      class: "empty-note",
      "text-anchor": "middle",
    });
  }
}

// A step of 1, 2, 2.5 or 5 times a power of ten, at least `raw`; whole for counts.
function niceStep(raw, integer) {
  if (!(raw > 0)) return integer ? 1 : 0.25;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    const step = factor * power;
    if (integer && !Number.isInteger(step)) continue;
    if (step >= raw * (1 - 1e-9)) return step;
  }
  return 10 * power;
}

// The axis of values in [lo, hi]: whole steps from min to max, about four of them.
function axisRange(lo, hi, { integer = false, fixedMax = null } = {}) {
  if (fixedMax !== null && fixedMax !== undefined) {
    return { min: 0, max: fixedMax, step: niceStep(fixedMax / 4, integer) };
  }
  const step = niceStep((Math.max(hi, 0) - Math.min(lo, 0)) / 4, integer);
  const min = Math.min(0, Math.floor(lo / step) * step);
  const max = Math.max(0, Math.ceil(hi / step) * step);
  return { min, max: max > min ? max : step, step };
}

// Decimals needed to write `step` exactly: 0.25 -> 2, 2.5 -> 1, 5 -> 0.
function decimalsOf(step) {
  for (let digits = 0; digits < 8; digits += 1) {
    const scaled = step * 10 ** digits;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6) return digits;
  }
  return 8;
}

// A tick label writer: value * scale with the decimals its step needs, and a suffix.
export function ticks({ scale = 1, suffix = "" } = {}) {
  return (value, step) => {
    const text = (value * scale).toFixed(decimalsOf(step * scale));
    return `${text === "-0" ? "0" : text}${suffix}`;
  };
}

function yAxis(svg, { min, max, step }, tickFormat) {
  const scale = (v) => MARGIN.top + PLOT_H - ((v - min) / (max - min)) * PLOT_H;
  const count = Math.round((max - min) / step);
  for (let i = 0; i <= count; i += 1) {
    const value = min + step * i;
    const y = scale(value);
    el("line", { x1: MARGIN.left, x2: MARGIN.left + PLOT_W, y1: y, y2: y, class: "grid" }, svg);
    text(svg, MARGIN.left - 6, y + 4, tickFormat(value, step), { class: "tick", "text-anchor": "end" });
  }
  return scale;
}

// Reference lines (target, baseline) with their labels inside the plot, right-aligned
// above their line; a label that would overlap the one above moves down.
function refLines(svg, refs, scaleY, min, max) {
  const shown = (refs || [])
    .filter((ref) => ref.value !== null && ref.value !== undefined && ref.value >= min && ref.value <= max)
    .map((ref) => ({ ...ref, y: scaleY(ref.value) }))
    .sort((a, b) => a.y - b.y);
  let lastLabelY = -Infinity;
  for (const ref of shown) {
    el("line", { x1: MARGIN.left, x2: MARGIN.left + PLOT_W, y1: ref.y, y2: ref.y, class: `ref ${ref.kind}` }, svg);
    const labelY = Math.min(Math.max(ref.y - 4, MARGIN.top + 10, lastLabelY + LABEL_H), MARGIN.top + PLOT_H - 2);
    text(svg, MARGIN.left + PLOT_W - 4, labelY, ref.label, { class: `ref-label ${ref.kind}`, "text-anchor": "end" });
    lastLabelY = labelY;
  }
}

// points: [{t: seconds, v: number|null}]; bucketS: width of one bucket in seconds
export function lineChart(figure, { points, bucketS, format, tickFormat, timeFormat, refs, label, fixedMax }) {
  const svg = newSvg(figure, label);
  const values = points.map((p) => p.v).filter((v) => v !== null && v !== undefined);
  const range = axisRange(0, Math.max(0, ...values), { fixedMax });
  const { max } = range;
  const scaleY = yAxis(svg, range, tickFormat);
  const start = points.length ? points[0].t : 0;
  const end = points.length ? points[points.length - 1].t + bucketS : 1;
  const scaleX = (t) => MARGIN.left + ((t - start) / (end - start || 1)) * PLOT_W;
  timeAxis(svg, start, end, timeFormat);
  refLines(svg, refs, scaleY, 0, max);
  let path = "";
  let pen = false;
  let marks = 0;
  for (const point of points) {
    if (point.v === null || point.v === undefined) {
      pen = false;
      continue;
    }
    const x = scaleX(point.t + bucketS / 2);
    const y = scaleY(point.v);
    path += `${pen ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
    titled(el("circle", { cx: x, cy: y, r: 2.5, class: "dot" }, svg), `${timeFormat(point.t)}: ${format(point.v)}`);
    marks += 1;
  }
  if (path) el("path", { d: path, class: "line" }, svg);
  finish(figure, svg, marks);
}

// bars over time: points [{t, v}]
export function timeBarChart(figure, { points, bucketS, format, timeFormat, label }) {
  const svg = newSvg(figure, label);
  const range = axisRange(0, Math.max(0, ...points.map((p) => p.v || 0)), { integer: true });
  const scaleY = yAxis(svg, range, ticks());
  const start = points.length ? points[0].t : 0;
  const end = points.length ? points[points.length - 1].t + bucketS : 1;
  const scaleX = (t) => MARGIN.left + ((t - start) / (end - start || 1)) * PLOT_W;
  timeAxis(svg, start, end, timeFormat);
  const barW = Math.max(1, (PLOT_W / Math.max(points.length, 1)) * 0.8);
  let marks = 0;
  for (const point of points) {
    if (!point.v) continue;
    const y = scaleY(point.v);
    const bar = el("rect", {
      x: scaleX(point.t) + barW * 0.1,
      y,
      width: barW,
      height: MARGIN.top + PLOT_H - y,
      class: "bar",
    }, svg);
    titled(bar, `${timeFormat(point.t)}: ${format(point.v)}`);
    marks += 1;
  }
  finish(figure, svg, marks);
}

// The time axis; without a span of time (nothing to show) it has no labels, rather
// than the dates of the Unix epoch.
function timeAxis(svg, start, end, timeFormat, count = 5) {
  const y = MARGIN.top + PLOT_H;
  el("line", { x1: MARGIN.left, x2: MARGIN.left + PLOT_W, y1: y, y2: y, class: "axis" }, svg);
  if (!(start > 0 && end > start)) return;
  for (let i = 0; i <= count; i += 1) {
    const t = start + ((end - start) * i) / count;
    const x = MARGIN.left + (PLOT_W * i) / count;
    text(svg, x, y + 16, timeFormat(t), { class: "tick time", "data-t": t, "text-anchor": "middle" });
  }
}

// categories: ["buy", ...]; series: [{name, cls, values: [number|null per category]}]
export function groupedBarChart(figure, { categories, series, format, tickFormat, label, fixedMax, integer }) {
  const svg = newSvg(figure, label);
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const range = axisRange(Math.min(0, ...values), Math.max(0, ...values), { fixedMax, integer });
  const scaleY = yAxis(svg, range, tickFormat);
  const groupW = PLOT_W / Math.max(categories.length, 1);
  const barW = (groupW * 0.8) / Math.max(series.length, 1);
  const zero = scaleY(0);
  el("line", { x1: MARGIN.left, x2: MARGIN.left + PLOT_W, y1: zero, y2: zero, class: "axis" }, svg);
  let marks = 0;
  categories.forEach((category, c) => {
    const left = MARGIN.left + c * groupW + groupW * 0.1;
    text(svg, left + (groupW * 0.8) / 2, MARGIN.top + PLOT_H + 16, category, {
      class: "tick",
      "text-anchor": "middle",
    });
    series.forEach((s, i) => {
      const value = s.values[c];
      if (value === null || value === undefined) return;
      const y = scaleY(value);
      const bar = el("rect", {
        x: left + i * barW,
        y: Math.min(y, zero),
        width: Math.max(barW - 1, 1),
        height: Math.max(Math.abs(zero - y), value === 0 ? 0 : 1),
        class: `bar ${s.cls}`,
      }, svg);
      titled(bar, `${s.name} ${category}: ${format(value)}`);
      if (value !== 0) marks += 1;
    });
  });
  series.forEach((s, i) => {
    const y = MARGIN.top + 4 + i * 16;
    el("rect", { x: MARGIN.left + PLOT_W + 8, y, width: 10, height: 10, class: `bar ${s.cls}` }, svg);
    text(svg, MARGIN.left + PLOT_W + 22, y + 9, s.name, { class: "legend" });
  });
  finish(figure, svg, marks);
}

// events: [{t: seconds, lane: string, label: string, title: string}]; lanes in order
export function timelineChart(figure, { events, lanes, timeFormat, label }) {
  const svg = newSvg(figure, label);
  const times = events.map((e) => e.t);
  const span = times.length ? Math.max(...times) - Math.min(...times) : 0;
  const pad = Math.max(span * 0.05, 60);
  const start = times.length ? Math.min(...times) - pad : 0;
  const end = times.length ? Math.max(...times) + pad : 1;
  const laneH = PLOT_H / lanes.length;
  const scaleX = (t) => MARGIN.left + ((t - start) / (end - start)) * PLOT_W;
  lanes.forEach((lane, i) => {
    const y = MARGIN.top + laneH * (i + 0.5);
    el("line", { x1: MARGIN.left, x2: MARGIN.left + PLOT_W, y1: y, y2: y, class: "grid" }, svg);
    text(svg, MARGIN.left - 6, y + 4, lane, { class: "tick", "text-anchor": "end" });
  });
  timeAxis(svg, start, end, timeFormat, 3);
  let marks = 0;
  for (const event of events) {
    const lane = lanes.indexOf(event.lane);
    if (lane < 0) continue;
    const x = scaleX(event.t);
    const y = MARGIN.top + laneH * (lane + 0.5);
    titled(el("circle", { cx: x, cy: y, r: 5, class: `event ${event.lane.replace(" ", "-")}` }, svg), event.title);
    if (event.label) text(svg, x, y - 8, event.label, { class: "event-label", "text-anchor": "middle" });
    marks += 1;
  }
  finish(figure, svg, marks);
}
