"""The day of an event, remembered per minute, is always the day the
event has in the configured zone, also around midnights and offset changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.days import ZoneDays

# odd offsets: seconds (Monrovia until 1972), half and quarter hours, 30-minute DST
ZONES = (
    "Africa/Monrovia",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/New_York",
    "UTC",
)
times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=400)
@given(zone=st.sampled_from(ZONES), moments=st.lists(times, min_size=1, max_size=20))
def test_the_day_of_a_time_is_its_day_in_the_zone(zone: str, moments: list[datetime]) -> None:
    days = ZoneDays(ZoneInfo(zone))
    # the same minutes asked again, so remembered days are checked too
    for ts in moments + moments:
        assert days.of(ts) == ts.astimezone(ZoneInfo(zone)).date().isoformat()


def test_a_minute_holding_a_midnight_is_decided_per_event() -> None:
    monrovia = ZoneInfo("Africa/Monrovia")  # -00:44:30 in 1971: midnight at 00:44:30 UTC
    days = ZoneDays(monrovia)
    before = datetime(1971, 6, 2, 0, 44, 10, tzinfo=UTC)
    after = datetime(1971, 6, 2, 0, 44, 50, tzinfo=UTC)
    assert days.of(before) == "1971-06-01"
    assert days.of(after) == "1971-06-02"
    assert days.of(before) == "1971-06-01"
