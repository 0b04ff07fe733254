"""When the trading pipeline's market is open, so that silence outside it raises no alert.

The pipeline publishes predictions during exchange sessions only: at night, on weekends
and holidays no traffic is the normal state. The schedule is three settings, read in
MLMON_TIMEZONE: `ML_MARKET_HOURS` (`09:15-15:30`; unset: always open),
`ML_MARKET_DAYS` (`mon-fri`, or a list `mon,tue,thu`) and `ML_MARKET_HOLIDAYS` (dates
`2026-01-26,2026-03-14`). A small format rather than an exchange-calendar library: the
libraries bring pandas into every worker, and a pipeline's own session (a pre-open, a
late batch) is what matters, not the exchange's official one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class ScheduleError(ValueError):
    """A market schedule setting that cannot be read; the message says what is accepted."""


def parse_hours(text: str | None) -> tuple[time, time] | None:
    """'09:15-15:30' -> (09:15, 15:30); None or '' -> None (always open)."""
    if not text:
        return None
    match = HOURS_PATTERN.match(text.strip())
    if match is None:
        raise ScheduleError("must be HH:MM-HH:MM, e.g. 09:15-15:30")
    open_h, open_m, close_h, close_m = (int(part) for part in match.groups())
    if close_h == 24 and close_m != 0:
        raise ScheduleError("must be HH:MM-HH:MM, e.g. 09:15-15:30")
    opens = time(open_h, open_m)
    closes = time.max if close_h == 24 else time(close_h, close_m)
    if closes <= opens:
        raise ScheduleError("the close must come after the open (sessions within one day)")
    return opens, closes


def parse_days(text: str) -> frozenset[int]:
    """'mon-fri' or 'mon,wed,fri' (or both: 'mon-wed,fri') -> weekday numbers (Monday 0)."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ScheduleError("must be day names mon..sun, ranges or lists: mon-fri")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        if end < start:
            raise ScheduleError(f"the range {part} runs backwards")
        days.update(range(start, end + 1))
    return frozenset(days)


def parse_holidays(text: str | None) -> frozenset[date]:
    """'2026-01-26,2026-03-14' -> dates; None or '' -> none."""
    if not text:
        return frozenset()
    try:
        return frozenset(date.fromisoformat(part.strip()) for part in text.split(",") if part)
    except ValueError as e:
        raise ScheduleError("must be dates YYYY-MM-DD separated by commas") from e


@dataclass(frozen=True)
class MarketSchedule:
    """The sessions in which traffic is expected.

    hours: (open, close) in `zone`, or None when the market never closes.
    days: weekdays with a session (Monday 0). holidays: dates without one.
    """

    hours: tuple[time, time] | None
    days: frozenset[int]
    holidays: frozenset[date]
    zone: ZoneInfo

    @classmethod
    def parse(
        cls, hours: str | None, days: str, holidays: str | None, *, zone: ZoneInfo
    ) -> MarketSchedule:
        """The schedule of the three settings' texts; ScheduleError when one is wrong."""
        return cls(parse_hours(hours), parse_days(days), parse_holidays(holidays), zone)

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (an aware datetime) falls in a session."""
        if self.hours is None:
            return True
        local = at.astimezone(self.zone)
        if local.weekday() not in self.days or local.date() in self.holidays:
            return False
        opens, closes = self.hours
        return opens <= local.time().replace(tzinfo=None) < closes
