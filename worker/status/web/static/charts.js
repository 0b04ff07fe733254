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

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function yAxis(svg, min, max, format) {
  const scale = (v) => MARGIN.top + PLOT_H - ((v - min) / (max - min)) * PLOT_H;
  const ticks = 4;
  for (let i = 0; i <= ticks; i += 1) {
    const value = min + ((max - min) * i) / ticks;
    const y = scale(value);
    el("line", { x1: MARGIN.left, x2: MARGIN.left + PLOT_W, y1: y, y2: y, class: "grid" }, svg);
    text(svg, MARGIN.left - 6, y + 4, format(value), { class: "tick", "text-anchor": "end" });
  }
  return scale;
}

function refLines(svg, refs, scaleY, min, max) {
  for (const ref of refs || []) {
    if (ref.value === null || ref.value === undefined || ref.value < min || ref.value > max) continue;
    const y = scaleY(ref.value);
    el("line", { x1: MARGIN.left, x2: MARGIN.left + PLOT_W, y1: y, y2: y, class: `ref ${ref.kind}` }, svg);
    text(svg, MARGIN.left + PLOT_W + 4, y + 4, ref.label, { class: `ref-label ${ref.kind}` });
  }
}

// points: [{t: seconds, v: number|null}]; bucketS: width of one bucket in seconds
export function lineChart(figure, { points, bucketS, format, tickFormat, timeFormat, refs, label, fixedMax }) {
  const svg = newSvg(figure, label);
  const values = points.map((p) => p.v).filter((v) => v !== null && v !== undefined);
  const max = fixedMax ?? niceMax(Math.max(0, ...values));
  const scaleY = yAxis(svg, 0, max, tickFormat || format);
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
  const max = niceMax(Math.max(0, ...points.map((p) => p.v || 0)));
  const scaleY = yAxis(svg, 0, max, format);
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

function timeAxis(svg, start, end, timeFormat, ticks = 5) {
  const y = MARGIN.top + PLOT_H;
  el("line", { x1: MARGIN.left, x2: MARGIN.left + PLOT_W, y1: y, y2: y, class: "axis" }, svg);
  for (let i = 0; i <= ticks; i += 1) {
    const t = start + ((end - start) * i) / ticks;
    const x = MARGIN.left + (PLOT_W * i) / ticks;
    text(svg, x, y + 16, timeFormat(t), { class: "tick", "text-anchor": "middle" });
  }
}

// categories: ["buy", ...]; series: [{name, cls, values: [number|null per category]}]
export function groupedBarChart(figure, { categories, series, format, tickFormat, label, fixedMax }) {
  const svg = newSvg(figure, label);
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const min = Math.min(0, ...values) < 0 ? -niceMax(-Math.min(...values)) : 0;
  const max = fixedMax ?? niceMax(Math.max(0, ...values));
  const scaleY = yAxis(svg, min, max, tickFormat || format);
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
