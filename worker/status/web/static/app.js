// The mlmon dashboard page: fetches the JSON API every few seconds and redraws.
// Everything it writes goes through textContent: tickers and alert texts are data.

import { groupedBarChart, lineChart, ticks, timeBarChart, timelineChart } from "./charts.js";
import { renderFeatures } from "./features.js";

const ZONE = document.body.dataset.timezone || "UTC";
const REFRESH_MS = Number(document.body.dataset.refreshMs) || 5000;
const VERDICTS = ["strong_buy", "buy", "watch", "avoid"];
const SOURCES = [
  { key: "ml", name: "ML", cls: "s-ml" },
  { key: "rule", name: "rule", cls: "s-rule" },
  { key: "final", name: "final", cls: "s-final" },
];
// the original system's targets; a drift check's threshold replaces them when present
const TARGETS = { ml_usage_rate: 0.8, agreement_rate: 0.6, avg_ml_confidence: 0.75 };
const TARGET_CHECKS = {
  ml_usage_rate: "target_ml_usage",
  agreement_rate: "target_agreement",
  avg_ml_confidence: "target_avg_confidence",
};
const BASELINE_CHECKS = {
  ml_usage_rate: "usage_drop",
  agreement_rate: "agreement_drop",
  avg_ml_confidence: "confidence_drop",
};
const RATE_CHARTS = [
  { metric: "ml_usage_rate", figure: "chart-ml-usage", label: "ML usage rate" },
  { metric: "agreement_rate", figure: "chart-agreement", label: "Agreement rate" },
  { metric: "avg_ml_confidence", figure: "chart-confidence", label: "Average ML confidence" },
];
const LIFECYCLE_LANES = {
  model_trained: "trained",
  model_promoted: "promoted",
  model_rejected: "rejected",
  model_rolled_back: "rollback",
  retrain_failed: "failed",
};

const $ = (id) => document.getElementById(id);

const PERCENT_TICKS = ticks({ scale: 100, suffix: "%" });
const COUNT_TICKS = ticks();

function percent(value) {
  return value === null || value === undefined ? "n/a" : `${(value * 100).toFixed(1)}%`;
}

function number(value, digits = 3) {
  if (value === null || value === undefined) return "n/a";
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

function formatter(options) {
  const format = new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, ...options });
  return (seconds) => format.format(new Date(seconds * 1000));
}

const fullTime = formatter({
  year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const TIME_FORMATS = {
  minute: formatter({ hour: "2-digit", minute: "2-digit" }),
  day: formatter({ month: "short", day: "2-digit" }),
  dayAndTime: formatter({ month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit" }),
};

function isoSeconds(iso) {
  return iso ? Date.parse(iso) / 1000 : null;
}

function showTime(iso) {
  return iso ? fullTime(isoSeconds(iso)) : "n/a";
}

function setText(id, value) {
  $(id).textContent = value;
}

function fillTable(id, rows) {
  const table = $(id);
  table.hidden = rows.length === 0;
  const body = table.querySelector("tbody");
  body.replaceChildren(
    ...rows.map((cells) => {
      const row = document.createElement("tr");
      for (const cell of cells) {
        const td = document.createElement("td");
        if (cell && typeof cell === "object") {
          const span = document.createElement("span");
          span.textContent = cell.text;
          span.className = cell.cls;
          td.appendChild(span);
        } else {
          td.textContent = cell === null || cell === undefined ? "n/a" : String(cell);
        }
        row.appendChild(td);
      }
      return row;
    }),
  );
}

function fillFacts(id, facts) {
  const list = $(id);
  list.replaceChildren();
  for (const [term, value] of facts) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value === null || value === undefined ? "n/a" : String(value);
    list.append(dt, dd);
  }
}

function stateBadge(state) {
  return { text: state ?? "n/a", cls: `badge state-${state === "firing" ? "firing" : "resolved"}` };
}

function renderDeadLetters(dead) {
  setText(
    "dead-letters-message",
    dead.total ? `${dead.total} in the dead-letter stream; the newest ${dead.letters.length}:` : "no dead letters",
  );
  fillTable(
    "dead-letters-table",
    dead.letters.map((d) => [
      showTime(d.dead_at), d.stream, d.group, d.reason, d.deliveries,
      d.replayed_as ? `replayed as ${d.replayed_as}` : { text: d.replay, cls: "command" },
    ]),
  );
}

function badge(status) {
  return { text: status, cls: `badge sev-${String(status).replace(" ", "-")}` };
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${path}: HTTP ${response.status}`);
  return body;
}

function renderMetrics(status) {
  setText("generated-at", `generated ${showTime(status.generated_at)} (${ZONE})`);
  setText("total-predictions", String(status.total_predictions));
  setText("ml-usage-rate", percent(status.ml_usage_rate));
  setText("agreement-rate", percent(status.agreement_rate));
  setText("disagreement-rate", percent(status.disagreement_rate));
  setText("avg-ml-confidence", percent(status.avg_ml_confidence));
  setText("dead-letters", String(status.dead_letters));
  fillTable(
    "windows-table",
    Object.entries(status.windows).map(([name, w]) => [
      name, w.total_predictions, percent(w.ml_usage_rate), percent(w.agreement_rate),
      percent(w.disagreement_rate), percent(w.avg_ml_confidence), windowCovers(w.covers),
    ]),
  );
  const distribution = status.verdict_distribution;
  groupedBarChart($("chart-verdicts"), {
    categories: VERDICTS,
    series: ["final", "ml", "rule"].map((kind) => {
      const source = SOURCES.find((s) => s.key === kind);
      return { ...source, values: VERDICTS.map((v) => distribution[kind][v] ?? 0) };
    }),
    format: (v) => number(Math.round(v)),
    tickFormat: COUNT_TICKS,
    integer: true,
    label: "verdict distribution",
  });
  groupedBarChart($("chart-histogram"), {
    categories: status.confidence_histogram.map((_, i) => `.${i}`),
    series: [{ name: "ML", cls: "s-ml", values: status.confidence_histogram }],
    format: (v) => number(Math.round(v)),
    tickFormat: COUNT_TICKS,
    integer: true,
    label: "ML confidence histogram",
  });
}

// a window is whole UTC buckets up to now, so it is a little shorter than its name
function windowCovers(covers) {
  if (!covers) return "n/a";
  const minutes = covers.seconds / 60;
  const span = minutes < 120 ? `${Math.round(minutes)} min` : `${(minutes / 60).toFixed(1)} h`;
  return `${span}: ${covers.buckets} ${covers.bucket} buckets from ${showTime(covers.from)}`;
}

// p-values run to 1e-12: small figures in scientific notation, not as 0.000
function checkNumber(value) {
  if (value === null || value === undefined) return "n/a";
  return value !== 0 && Math.abs(value) < 0.001 ? value.toExponential(1) : value.toFixed(3);
}

function limit(check, value) {
  return value === null || value === undefined ? "-" : `${check.comparison ?? ""} ${checkNumber(value)}`;
}

// the figures beside the one the thresholds apply to
function checkDetail(c) {
  const parts = c.reason ? [c.reason] : [];
  if (c.baseline !== null && c.baseline !== undefined) parts.push(`baseline ${checkNumber(c.baseline)}, now ${checkNumber(c.current)}`);
  if (c.p_value !== null && c.p_value !== undefined && c.measure !== "p_value") parts.push(`p ${checkNumber(c.p_value)} (drift needs < ${checkNumber(c.p_threshold)})`);
  if (c.effect !== null && c.effect !== undefined) parts.push(`${c.effect_measure} ${checkNumber(c.effect)} (drift needs >= ${checkNumber(c.effect_threshold)})`);
  if (c.statistic !== null && c.statistic !== undefined) parts.push(`chi2 ${c.statistic.toFixed(1)}, df ${c.df}`);
  if (c.reference_mean !== null && c.reference_mean !== undefined) parts.push(`running mean ${checkNumber(c.reference_mean)}, ${c.events} events, ${c.direction}`);
  return parts.join("; ");
}

function renderDrift(drift) {
  const checks = drift.available ? Object.entries(drift.checks || {}) : [];
  const severity = $("drift-severity");
  if (!drift.available) {
    severity.textContent = "";
    severity.className = "badge";
    setText("drift-message", drift.message || "not available yet");
  } else {
    severity.textContent = drift.severity;
    severity.className = `badge sev-${String(drift.severity).replace(" ", "-")}`;
    setText("drift-message", drift.drift_detected ? "drift detected" : "no drift detected");
  }
  const covers = drift.window_covers;
  setText(
    "drift-window",
    covers ? `window ${drift.window}: ${covers.buckets} UTC ${covers.bucket} buckets, from ${showTime(covers.from)} to now` : "",
  );
  fillTable(
    "drift-table",
    checks.map(([name, c]) => [
      name, badge(c.status), c.measure ?? "", checkNumber(c.value), limit(c, c.threshold),
      limit(c, c.critical_threshold), checkDetail(c),
    ]),
  );
}

function renderAlerts(alerts) {
  if (!alerts) {
    setText("alerts-message", "not available yet");
    fillTable("alerts-table", []);
    return;
  }
  const recent = alerts.recent || [];
  setText(
    "alerts-message",
    `${recent.length ? `${recent.length} recent` : "no recent alerts"}; failed deliveries: ${alerts.failed_deliveries ?? "n/a"}`,
  );
  fillTable(
    "alerts-table",
    recent.map((a) => [showTime(a.ts), a.name, badge(a.severity), stateBadge(a.status), a.summary]),
  );
}

function renderRetraining(retraining, timeline) {
  if (!retraining.available) {
    fillFacts("retraining-summary", [["status", retraining.message || "not available yet"]]);
  } else {
    const last = retraining.last_retraining;
    fillFacts("retraining-summary", [
      ["completed runs", retraining.total_retrainings],
      ["failed runs", retraining.failed_runs],
      ["live version", retraining.live_version],
      ["last run", last ? `${last.outcome} ${last.version ? `v${last.version} ` : ""}at ${showTime(last.at)}` : null],
      ["can retrain now", retraining.can_retrain_now ? "yes" : `no: ${retraining.why_not}`],
      ["next allowed at", showTime(retraining.next_allowed_at)],
      ["new labelled rows", retraining.new_labelled_rows],
      ["active job", retraining.active_job ? `${retraining.active_job.job_id} (${retraining.active_job.status})` : "none"],
    ]);
  }
  const events = timeline.events
    .filter((e) => LIFECYCLE_LANES[e.type] && e.ts)
    .map((e) => ({
      t: isoSeconds(e.ts),
      lane: LIFECYCLE_LANES[e.type],
      label: e.version ? `v${e.version}` : "",
      title: `${showTime(e.ts)} ${e.type}${e.version ? ` v${e.version}` : ""}${e.why || e.error ? `: ${e.why || e.error}` : ""}`,
    }));
  timelineChart($("chart-retraining"), {
    events,
    lanes: Object.values(LIFECYCLE_LANES),
    timeFormat: TIME_FORMATS.dayAndTime,
    label: "model lifecycle",
  });
  fillTable(
    "versions-table",
    [...timeline.versions].reverse().map((v) => [
      `v${v.version}`, badge(v.status), showTime(v.trained_at), showTime(v.promoted_at),
      v.samples, v.trigger, number(v.macro_f1), number(v.accuracy),
    ]),
  );
}

function renderFeedback(feedback) {
  if (!feedback.available) {
    fillFacts("feedback-summary", [["status", feedback.message || "not available yet"]]);
    return;
  }
  const periods = [["all", feedback], ...Object.entries(feedback.windows || {})];
  fillFacts("feedback-summary", [
    ["outcomes scored", feedback.total_outcomes],
    ["profit / loss / neutral", `${feedback.outcomes.profit} / ${feedback.outcomes.loss} / ${feedback.outcomes.neutral}`],
    ["mean pnl %", number(feedback.avg_pnl_pct, 2)],
    ["joined to a prediction", `${feedback.joined} (unmatched ${feedback.unmatched})`],
    ["ML vs rule where they disagreed", `${feedback.disagreements.count} outcomes, winner: ${feedback.disagreements.winner ?? "n/a"}`],
  ]);
  fillTable(
    "feedback-table",
    SOURCES.map((s) => {
      const x = feedback.by_source[s.key];
      return [s.name, x.count, x.correct, percent(x.accuracy), x.bullish_calls, percent(x.bullish_precision), number(x.bullish_pnl_pct_mean, 2)];
    }),
  );
  const categories = periods.map(([name]) => name);
  groupedBarChart($("chart-accuracy"), {
    categories,
    series: SOURCES.map((s) => ({ ...s, values: periods.map(([, p]) => p.by_source[s.key].accuracy) })),
    format: percent,
    tickFormat: PERCENT_TICKS,
    fixedMax: 1,
    label: "accuracy by source",
  });
  groupedBarChart($("chart-pnl"), {
    categories,
    series: SOURCES.map((s) => ({ ...s, values: periods.map(([, p]) => p.by_source[s.key].bullish_pnl_pct_mean) })),
    format: (v) => `${number(v, 1)}%`,
    tickFormat: ticks({ suffix: "%" }),
    label: "mean pnl of bullish calls by source",
  });
}

function renderGroups(groups) {
  fillTable(
    "groups-table",
    groups.map((g) => [g.group, g.stream, g.lag, g.pending, g.consumers, g.live_consumers.length]),
  );
}

function renderRecent(recent) {
  fillTable(
    "recent-table",
    recent.slice(0, 10).map((p) => [
      showTime(p.ts), p.ticker, p.final_verdict, p.ml_verdict, p.rule_verdict,
      percent(p.ml_confidence), p.verdict_source,
    ]),
  );
}

function points(series) {
  return series.points.map((p) => ({ t: p.start_s, v: p.value }));
}

function renderSeries(status, series) {
  const bucket = series.predictions.bucket;
  const timeFormat = TIME_FORMATS[series.predictions.window === "7d" ? "day" : "minute"];
  const bucketS = series.predictions.bucket_seconds;
  for (const node of document.querySelectorAll(".bucket-name")) node.textContent = bucket;
  timeBarChart($("chart-predictions"), {
    points: points(series.predictions), bucketS, timeFormat, format: (v) => number(Math.round(v)), label: "predictions",
  });
  const checks = status.drift && status.drift.available ? status.drift.checks || {} : {};
  for (const chart of RATE_CHARTS) {
    const target = checks[TARGET_CHECKS[chart.metric]]?.threshold ?? TARGETS[chart.metric];
    const baseline = checks[BASELINE_CHECKS[chart.metric]]?.baseline;
    lineChart($(chart.figure), {
      points: points(series[chart.metric]),
      bucketS,
      timeFormat,
      format: percent,
      tickFormat: PERCENT_TICKS,
      fixedMax: 1,
      label: chart.label,
      refs: [
        { value: target, label: `target ${percent(target)}`, kind: "target" },
        { value: baseline, label: `baseline ${percent(baseline)}`, kind: "baseline" },
      ],
    });
  }
}

async function refresh() {
  const window = $("window").value;
  const metrics = ["predictions", ...RATE_CHARTS.map((c) => c.metric)];
  const [status, timeline, dead, ...seriesList] = await Promise.all([
    getJson("/api/status"),
    getJson("/api/retraining"),
    getJson("/api/deadletters?limit=20"),
    ...metrics.map((m) => getJson(`/api/timeseries?metric=${m}&window=${window}`)),
  ]);
  const series = Object.fromEntries(metrics.map((m, i) => [m, seriesList[i]]));
  renderMetrics(status);
  renderSeries(status, series);
  renderDrift(status.drift);
  renderFeatures(status.features, { badge, fillTable, setText });
  renderAlerts(status.alerts);
  renderRetraining(status.retraining, timeline);
  renderFeedback(status.feedback);
  renderGroups(status.consumer_groups);
  renderRecent(status.recent_predictions);
  renderDeadLetters(dead);
}

let timer = null;

async function tick() {
  clearTimeout(timer);
  const connection = $("connection");
  try {
    await refresh();
    connection.textContent = "live";
    connection.className = "badge sev-ok";
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  } catch (error) {
    connection.textContent = `API unreachable: ${error.message}`;
    connection.className = "badge sev-critical";
  }
  timer = setTimeout(tick, document.hidden ? REFRESH_MS * 6 : REFRESH_MS);
}

setText("refresh-seconds", String(REFRESH_MS / 1000));
$("window").addEventListener("change", tick);
$("feature-select").addEventListener("change", tick);
tick();
