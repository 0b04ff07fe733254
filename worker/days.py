"""The day of an event in the deployment's time zone, at a dictionary look-up per event."""

from __future__ import annotations

from datetime import datetime, tzinfo

DAYS_REMEMBERED = 10_000  # minutes, a week of them
MINUTE_END_S = 59.999_999


class ZoneDays:
    """The day (YYYY-MM-DD, in `zone`) of a time, remembered per minute when the whole
    minute falls on one day (not when a zone's midnight falls inside it): converting each
    event's time to a zone cost the log and the feedback index a microsecond per event."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._days: dict[int, str] = {}  # minute since the epoch -> its day

    def of(self, ts: datetime) -> str:
        minute = int(ts.timestamp()) // 60
        day = self._days.get(minute)
        if day is not None:
            return day
        day = ts.astimezone(self.zone).date().isoformat()
        first = datetime.fromtimestamp(minute * 60, self.zone).date().isoformat()
        last = datetime.fromtimestamp(minute * 60 + MINUTE_END_S, self.zone).date().isoformat()
        if first == day == last:
            if len(self._days) >= DAYS_REMEMBERED:
                self._days.clear()
            self._days[minute] = day
        return day
