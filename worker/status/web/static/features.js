// The features panel: per-feature drift and data quality, and one chart comparing a
// chosen feature's baseline and window histograms on the baseline's quantile bins.
// Feature names are producers' data: written with textContent and option.text only.

import { groupedBarChart, ticks } from "./charts.js";

const SHARE_TICKS = ticks({ scale: 100, suffix: "%" });
const $ = (id) => document.getElementById(id);

function share(value) {
  return value === null || value === undefined ? "n/a" : `${(value * 100).toFixed(1)}%`;
}

function num(value) {
  return value === null || value === undefined ? "n/a" : Number(value).toPrecision(3);
}

function edgeLabel(edges, i) {
  if (edges.length === 0) return "all";
  return i < edges.length ? `<${num(edges[i])}` : `>=${num(edges[i - 1])}`;
}

function shares(counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total ? c / total : 0));
}

function fillSelect(select, names) {
  const current = select.value;
  const same = [...select.options].map((o) => o.value).join("\u0000") === names.join("\u0000");
  if (!same) {
    select.replaceChildren(...names.map((name) => new Option(name, name)));
  }
  if (names.includes(current)) select.value = current;
}

export function renderFeatures(features, { badge, fillTable, setText }) {
  if (!features || !features.available) {
    setText("features-message", "not available yet");
    fillTable("features-table", []);
    return;
  }
  const rows = features.features || [];
  const drifted = (features.drifted || []).join(", ") || "none";
  setText(
    "features-message",
    features.status === "insufficient data"
      ? `insufficient data: ${features.reason}`
      : `${features.monitored.length} monitored (cap ${features.monitored_cap}); drifted: ${drifted}; ` +
          `${(features.quality_failures || []).length} data-quality failures`,
  );
  fillTable(
    "features-table",
    rows.map((r) => [
      r.feature, badge(r.status), badge(r.drift_status), num(r.psi), num(r.p_value),
      share(r.missing_share), share(r.out_of_range_share),
      Object.entries(r.quality).filter(([, s]) => s !== "ok").map(([c, s]) => `${c} ${s}`).join(", "),
    ]),
  );
  const charted = rows.filter((r) => r.baseline_bins);
  const select = $("feature-select");
  fillSelect(select, charted.map((r) => r.feature));
  const row = charted.find((r) => r.feature === select.value);
  if (!row) return;
  groupedBarChart($("chart-feature"), {
    categories: row.baseline_bins.map((_, i) => edgeLabel(row.bin_upper_edges, i)),
    series: [
      { name: "baseline", cls: "s-rule", values: shares(row.baseline_bins) },
      { name: "window", cls: "s-ml", values: shares(row.window_bins) },
    ],
    format: share,
    tickFormat: SHARE_TICKS,
    label: `histogram of feature ${row.feature}`,
  });
}
