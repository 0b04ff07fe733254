"""Market hours: the schedule format, and mlmon's own no-traffic alert and exported
`mlmon_market_open` that follow it (quiet at night, on weekends and holidays)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import redis
from helpers import make_prediction, run_mlmon
from known_events import get, serving

from producer_sdk import Publisher
from worker.alerts.conditions import conditions_of
from worker.market import MarketSchedule, ScheduleError, parse_days, parse_hours
from worker.settings import Settings, SettingsError, load_settings
from worker.status.snapshot import build_status

KOLKATA = ZoneInfo("Asia/Kolkata")
NSE = {
    "ML_MARKET_HOURS": "09:15-15:30",
    "ML_MARKET_DAYS": "mon-fri",
    "ML_MARKET_HOLIDAYS": "2026-01-26,2026-03-03",
}
# 2026-03-02 is a Monday, 2026-03-03 a holiday, 2026-03-07 a Saturday
IN_SESSION = datetime(2026, 3, 2, 11, 0, tzinfo=KOLKATA)
CLOSED = {
    "before the open": datetime(2026, 3, 2, 9, 14, tzinfo=KOLKATA),
    "at the close": datetime(2026, 3, 2, 15, 30, tzinfo=KOLKATA),
    "at night": datetime(2026, 3, 2, 23, 0, tzinfo=KOLKATA),
    "on a holiday": datetime(2026, 3, 3, 11, 0, tzinfo=KOLKATA),
    "on a Saturday": datetime(2026, 3, 7, 11, 0, tzinfo=KOLKATA),
}


def nse_settings(settings: Settings, **extra: str) -> Settings:
    return load_settings(
        REDIS_URL=settings.redis_url,
        MLMON_PREFIX=settings.prefix,
        MLMON_HOME=str(settings.home),
        MLMON_TIMEZONE="Asia/Kolkata",
        **(NSE | extra),
    )


def test_the_schedule_is_open_in_session_only(settings: Settings) -> None:
    market = nse_settings(settings).market
    assert market.is_open(IN_SESSION)
    assert market.is_open(datetime(2026, 3, 2, 5, 45, tzinfo=UTC))  # 11:15 in Kolkata
    for when, at in CLOSED.items():
        assert not market.is_open(at), when


def test_without_market_hours_the_market_never_closes() -> None:
    market = MarketSchedule.parse(None, "mon-fri", None, zone=KOLKATA)
    assert all(market.is_open(at) for at in [IN_SESSION, *CLOSED.values()])


def test_schedule_formats() -> None:
    assert parse_days("mon-wed,fri") == {0, 1, 2, 4}
    assert parse_days("sun") == {6}
    assert parse_hours("00:00-24:00") == (time(0, 0), time.max)
    for bad in ["9:15-15:30", "15:30-09:15", "09:15", "24:00-24:00", "09:00-24:30"]:
        with pytest.raises(ScheduleError):
            parse_hours(bad)
    for bad in ["fri-mon", "monday", ""]:
        with pytest.raises(ScheduleError):
            parse_days(bad)


@pytest.mark.parametrize(
    ("name", "value"),
    [("ML_MARKET_HOURS", "9-5"), ("ML_MARKET_DAYS", "fri-mon"), ("ML_MARKET_HOLIDAYS", "soon")],
)
def test_a_bad_schedule_setting_stops_with_one_line(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**{name: value})
    [line] = str(caught.value).splitlines()
    assert line.startswith(f"{name}={value!r} is invalid: ")


def no_predictions(client: redis.Redis, settings: Settings, now: datetime) -> bool:
    status = build_status(client, settings, now=now)
    [condition] = [
        c
        for c in conditions_of(status, last_dead_letters=0, max_lag=10_000)
        if c.name == "no_predictions"
    ]
    return condition.active


def test_no_traffic_alert_is_quiet_outside_market_hours_and_active_inside(
    client: redis.Redis, settings: Settings
) -> None:
    nse = nse_settings(settings)
    assert build_status(client, nse, now=IN_SESSION)["windows"]["1h"]["total_predictions"] == 0
    assert no_predictions(client, nse, IN_SESSION)
    for when, at in CLOSED.items():
        assert not no_predictions(client, nse, at), when


def test_no_traffic_alert_is_quiet_with_traffic_in_the_last_hour(
    client: redis.Redis, settings: Settings, env: dict[str, str]
) -> None:
    Publisher(client, prefix=settings.prefix, on_failure="raise").publish(make_prediction())
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=env).returncode == 0
    always = nse_settings(settings, ML_MARKET_HOURS="00:00-24:00", ML_MARKET_DAYS="mon-sun")
    assert not no_predictions(client, always, datetime.now(UTC))
    empty_hour = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)
    assert no_predictions(client, always, empty_hour)


@pytest.mark.parametrize(("today_a_holiday", "expected"), [(False, 1.0), (True, 0.0)])
def test_the_exporter_says_whether_the_market_is_open(
    env: dict[str, str], today_a_holiday: bool, expected: float
) -> None:
    today = datetime.now(KOLKATA).date().isoformat()
    market_env = {
        **env,
        "ML_MARKET_HOURS": "00:00-24:00",
        "ML_MARKET_DAYS": "mon-sun",
        "ML_MARKET_HOLIDAYS": today if today_a_holiday else "",
    }
    with serving("exporter", market_env) as url:
        code, _, body = get(url + "/metrics")
    assert code == 200
    [line] = [ln for ln in body.decode().splitlines() if ln.startswith("mlmon_market_open ")]
    assert float(line.split()[1]) == expected
