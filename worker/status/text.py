"""Text rendering of a status snapshot: the original system's monitoring dashboard.

`render(status, plain=False)` is the terminal dashboard; `plain=True` is the report for
files and e-mail (no emoji). Missing numbers print as "n/a", never as 0.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from worker.status.text_features import accuracy_lines, feature_lines

WIDTH = 80
BAR_SCALE = 50  # a bar of 100 % is 50 characters
RECENT_SHOWN = 5


def render(
    status: dict[str, Any], *, zone: tzinfo, plain: bool = False, detailed: bool = False
) -> str:
    """The dashboard text; times are shown in `zone` (MLMON_TIMEZONE)."""
    lines: list[str] = []

    def title(icon: str, text: str) -> None:
        lines.extend(["", text if plain else f"{icon} {text}", "-" * WIDTH])

    generated = datetime.fromisoformat(status["generated_at"]).astimezone(zone)
    lines += ["=" * WIDTH, "ML MONITORING DASHBOARD".center(WIDTH), "=" * WIDTH]
    lines += [f"Generated: {generated:%Y-%m-%d %H:%M:%S %Z}", "=" * WIDTH]
    redis_role = status.get("redis") or {}
    if redis_role.get("read_only"):
        warning = f"Redis is a READ-ONLY REPLICA of {redis_role['primary']}: nothing can be written"
        lines += [warning if plain else f"⚠️  {warning}", "=" * WIDTH]

    for fault in status.get("environment_faults") or []:  # first: events wait on it
        lines.append(
            f"ENVIRONMENT FAULT: group {fault['group']} consumer {fault['consumer']} is held "
            f"up, its entries pending: {fault['error']}"
        )

    title("📊", "PREDICTION METRICS")
    lines += _metric_lines(status)

    title("📈", "VERDICT DISTRIBUTION")
    lines += _distribution_lines(status["verdict_distribution"]["final"])

    if detailed:
        title("🧵", "CONSUMER GROUPS")
        lines += _group_lines(status["consumer_groups"])
        title("🕒", "ROLLING WINDOWS")
        lines += _window_lines(status)
        for kind in ("ml", "rule"):
            title("📈", f"{kind.upper()} VERDICT DISTRIBUTION")
            lines += _distribution_lines(status["verdict_distribution"][kind])

    recent = status["recent_predictions"][:RECENT_SHOWN]
    title("🔍", f"RECENT PREDICTIONS (Last {len(recent)})")
    lines += _recent_lines(recent, zone=zone, plain=plain) or ["No predictions yet."]

    title("🔄", "RETRAINING STATUS")
    lines += _retraining_lines(status["retraining"], zone=zone, plain=plain)

    title("⚠️ ", "DRIFT DETECTION")
    lines += _drift_lines(status["drift"], plain=plain)

    if "features" in status:
        title("🧬", "FEATURES")
        lines += feature_lines(status["features"])

    title("🔔", "RECENT ALERTS")
    lines += _alert_lines(status.get("alerts") or {})

    title("🎯", "FEEDBACK (TRADE OUTCOMES)")
    lines += _feedback_lines(status["feedback"], detailed=detailed)

    if "accuracy" in status:
        title("🎯", "ACCURACY: EXPECTED VS REALIZED")
        lines += accuracy_lines(status["accuracy"])

    title("☠️ ", "DEAD LETTERS")
    lines.append(f"Entries in {status['streams']['dead']}: {status['dead_letters']}")
    lines.append("=" * WIDTH)
    return "\n".join(lines) + "\n"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _metric_lines(metrics: dict[str, Any]) -> list[str]:
    return [
        f"Total Predictions: {metrics['total_predictions']}",
        f"ML Usage Rate: {_percent(metrics['ml_usage_rate'])}",
        f"Agreement Rate: {_percent(metrics['agreement_rate'])}",
        f"Disagreement Rate: {_percent(metrics['disagreement_rate'])}",
        f"Avg ML Confidence: {_percent(metrics['avg_ml_confidence'])}",
    ]


def _distribution_lines(counts: dict[str, int]) -> list[str]:
    total = sum(counts.values())
    lines = []
    for verdict, count in counts.items():
        share = count / total if total else 0.0
        bar = "█" * round(share * BAR_SCALE)
        lines.append(f"{verdict:<12}: {count:>6} ({share:6.1%}) {bar}")
    return lines


def _window_lines(status: dict[str, Any]) -> list[str]:
    header = f"{'window':<8}{'predictions':>12}{'ML usage':>11}{'agreement':>11}{'avg conf':>10}"
    lines = [header + "  covers"]
    rows = [("all", status), *status["windows"].items()]
    for name, metrics in rows:
        lines.append(
            f"{name:<8}{metrics['total_predictions']:>12}"
            f"{_percent(metrics['ml_usage_rate']):>11}"
            f"{_percent(metrics['agreement_rate']):>11}"
            f"{_percent(metrics['avg_ml_confidence']):>10}  {_covers(metrics.get('covers'))}"
        )
    return lines


def _covers(covers: dict[str, Any] | None) -> str:
    """A window is whole UTC buckets up to now: say how long that is at this moment."""
    if not covers:
        return "all time"
    minutes = covers["seconds"] / 60
    span = f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"
    return f"{span} ({covers['buckets']} {covers['bucket']} buckets)"


def _recent_lines(recent: list[dict[str, Any]], *, zone: tzinfo, plain: bool) -> list[str]:
    lines = []
    yes, no = ("yes", "no") if plain else ("✅", "❌")
    for number, p in enumerate(recent, start=1):
        ml = "did not run"
        if p["ml_verdict"] is not None:
            ml = p["ml_verdict"]
            if p["ml_confidence"] is not None:
                ml += f" ({p['ml_confidence']:.1%})"
        agreement = "n/a" if p["agreement"] is None else (yes if p["agreement"] else no)
        at = datetime.fromisoformat(p["ts"]).astimezone(zone)
        lines += [
            f"{number}. {p['ticker']} at {at:%Y-%m-%d %H:%M:%S %Z}",
            f"   ML: {ml}",
            f"   Rule: {p['rule_verdict']}",
            f"   Final: {p['final_verdict']} ({p['verdict_source']})",
            f"   Agreement: {agreement}",
        ]
    return lines


def _feedback_lines(feedback: dict[str, Any], *, detailed: bool) -> list[str]:
    total = feedback["total_outcomes"]
    if not total:
        return ["No outcomes recorded yet."]
    by_source = feedback["by_source"]
    by_id, by_day = feedback["joined_by_id"], feedback["joined_by_ticker_date"]
    lines = [
        f"Outcomes Recorded: {total} (joined {feedback['joined']}: {by_id} by id, "
        f"{by_day} by ticker and date; unmatched {feedback['unmatched']})",
    ]
    for source, label in (("ml", "ML"), ("rule", "Rule"), ("final", "Final")):
        f = by_source[source]
        lines.append(f"{label} Accuracy: {_percent(f['accuracy'])} ({f['correct']}/{f['count']})")
    disagreements = feedback["disagreements"]
    if disagreements["count"]:
        winner = {"ml": "ML wins", "rule": "rules win", "tie": "a tie"}[disagreements["winner"]]
        ml_right, rule_right = disagreements["ml"]["correct"], disagreements["rule"]["correct"]
        lines.append(
            f"When ML and rules disagreed ({disagreements['count']}): "
            f"ML right {ml_right}, rules right {rule_right}: {winner}"
        )
    lines.append(
        f"{'bullish calls':<14}{'calls':>7}{'precision':>11}{'mean pnl %':>12}{'total pnl %':>13}"
    )
    for source in ("ml", "rule", "final"):
        f = by_source[source]
        mean = "n/a" if f["bullish_pnl_pct_mean"] is None else f"{f['bullish_pnl_pct_mean']:+.2f}"
        lines.append(
            f"{source:<14}{f['bullish_calls']:>7}{_percent(f['bullish_precision']):>11}"
            f"{mean:>12}{f['bullish_pnl_pct_total']:>+13.2f}"
        )
    delay = feedback["avg_label_delay_days"]
    lines.append(
        f"Avg label delay: {'n/a' if delay is None else f'{delay:.1f} days'}; "
        f"labelled rows for training: {feedback['labelled_rows']}"
    )
    if detailed:
        for name, w in feedback["windows"].items():
            lines.append(
                f"{name:<4} outcomes {w['total_outcomes']}: ML {_percent(w['ml_accuracy'])}, "
                f"rule {_percent(w['rule_accuracy'])}, final {_percent(w['final_accuracy'])}"
            )
    return lines


def _retraining_lines(section: dict[str, Any], *, zone: tzinfo, plain: bool) -> list[str]:
    yes, no = ("yes", "no") if plain else ("✅ Yes", "❌ No")
    last = section["last_retraining"]
    lines = [
        f"Total Retrainings: {section['total_retrainings']} (failed: {section['failed_runs']})"
    ]
    if last is None:
        lines.append("Last Retraining: never")
    else:
        at = datetime.fromisoformat(last["at"]).astimezone(zone)
        detail = last["outcome"]
        if last.get("version") is not None:
            detail += f", version {last['version']}"
        if last.get("metrics"):
            detail += f", macro F1 {last['metrics']['macro_f1']:.3f}"
        if last.get("error"):
            detail += f": {last['error']}"
        lines.append(f"Last Retraining: {at:%Y-%m-%d %H:%M:%S %Z} ({detail}; {last['trigger']})")
    live = section["live_version"]
    lines.append(f"Live Model Version: {'none' if live is None else live}")
    lines.append(f"Min Interval: {section['min_interval_hours']:.1f} hours")
    lines.append(f"New Labelled Rows: {section['new_labelled_rows']}")
    can = yes if section["can_retrain_now"] else f"{no} ({section['why_not']})"
    lines.append(f"Can Retrain Now: {can}")
    if section["active_job"]:
        job = section["active_job"]
        lines.append(f"Current Job: {job['job_id']} ({job['status']}, {job['trigger']})")
    if section["last_refusal"]:
        refusal = section["last_refusal"]
        lines.append(f"Last Refusal: {refusal['why']} ({refusal['trigger']})")
    return lines


def _group_lines(groups: list[dict[str, Any]]) -> list[str]:
    lines = [f"{'group':<10}{'stream':<34}{'live':>5}{'pending':>9}{'lag':>9}"]
    for g in groups:
        lag = "n/a" if g["lag"] is None else str(g["lag"])
        stream = g["stream"] if g["exists"] else f"{g['stream']} (no group)"
        lines.append(
            f"{g['group']:<10}{stream:<34}{len(g['live_consumers']):>5}{g['pending']:>9}{lag:>9}"
        )
    return lines


def _number(value: float | None) -> str:
    """Small p-values in scientific notation, so 1e-6 does not print as 0.000."""
    if value is None:
        return "n/a"
    return f"{value:.1e}" if 0 < abs(value) < 0.001 else f"{value:.3f}"


def _check_detail(check: dict[str, Any]) -> str:
    """The figures beside the one the thresholds apply to."""
    parts = [check["reason"]] if check.get("reason") else []
    if check.get("baseline") is not None:
        parts.append(f"baseline {_number(check['baseline'])} now {_number(check['current'])}")
    if check.get("p_value") is not None and check.get("measure") != "p_value":
        threshold = _number(check["p_threshold"])
        parts.append(f"p {_number(check['p_value'])} (drift needs < {threshold})")
    if check.get("effect") is not None:
        parts.append(
            f"{check['effect_measure']} {_number(check['effect'])} "
            f"(drift needs >= {_number(check['effect_threshold'])})"
        )
    if check.get("statistic") is not None:
        parts.append(f"chi2 {check['statistic']:.1f} df {check['df']}")
    if check.get("reference_mean") is not None:
        parts.append(
            f"running mean {_number(check['reference_mean'])}, {check['events']} events"
            f", {check['direction']}"
        )
    return "; ".join(parts)


def _drift_lines(drift: dict[str, Any], *, plain: bool) -> list[str]:
    if not drift.get("available"):
        return [drift.get("message", "not available yet")]
    lines = []
    if drift["severity"] == "insufficient data":
        lines.append(
            f"Insufficient data: {drift['window_predictions']} predictions in the last "
            f"{drift['window']} (need {drift['min_samples']}) or no baseline"
        )
    elif drift["drift_detected"]:
        lines.append(f"{'' if plain else '⚠️  '}Drift detected: {drift['severity'].upper()}")
    else:
        lines.append(f"{'' if plain else '✅ '}No significant drift detected ({drift['severity']})")
    covers = drift.get("window_covers")
    if covers:
        lines.append(
            f"Window {drift['window']}: {covers['buckets']} UTC {covers['bucket']} buckets, "
            f"{covers['from']} to now ({covers['seconds'] / 60:.0f} min)"
        )
    base = drift.get("baseline")
    lines.append(
        f"Baseline: {base['source']} at {base['created_at']}" if base else "Baseline: none"
    )
    lines.append(f"{'check':<23}{'measure':<9}{'value':>9}{'warn':>11}{'critical':>11}  status")
    for name, check in drift["checks"].items():
        comparison = check.get("comparison", "")
        warn = f"{comparison} {_number(check.get('threshold'))}"
        critical = check.get("critical_threshold")
        critical_text = f"{comparison} {_number(critical)}" if critical is not None else "-"
        lines.append(
            f"{name:<23}{check.get('measure', ''):<9}{_number(check.get('value')):>9}"
            f"{warn:>11}{critical_text:>11}  {check['status']}"
        )
        detail = _check_detail(check)
        if detail:
            lines.append(f"{'':<25}{detail}")
    return lines


def _alert_lines(alerts: dict[str, Any]) -> list[str]:
    if not alerts.get("available"):
        return ["not available yet"]
    lines = [
        f"[{a['severity'].upper()}] {a['ts']} {a['status']}: {a['name']}: {a['summary']}"
        for a in alerts["recent"][:5]
    ] or ["No alerts."]
    channels = ", ".join(alerts["channels"])
    lines.append(f"Channels: {channels}; failed deliveries: {alerts['failed_deliveries']}")
    return lines
