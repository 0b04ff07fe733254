"""Per-feature counters: what one prediction's `features` add, and how to read them back.

Bin edges must exist when a value is counted, long before any baseline is set, so values
are counted in fixed fine bins on a signed logarithmic scale that covers every float:
8 bins per octave of |x| (each bin 1/16 to 1/8 of its values' magnitude wide, 6-12 %),
octaves 2^-20 .. 2^64, both signs, and one bin for |x| below 2^-20 (zero). The drift
checks merge these fine bins into the baseline's quantile bins at check time
(`worker.drift.features`), so every merged bin is populated in the baseline. A feature
therefore holds at most `FINE_BINS` fields per hash, and in practice one per 4 % of the
range its values span (a feature spanning a factor of 10 fills about 27).

Counter hash fields (alongside those of `worker.counters.metrics`, in the minute, hour
and model version hashes: the feature checks read windows and baselines, never the
all-time hash, so it holds none of them and costs neither Redis nor `mlmon status`):

    featured                 predictions that carried features
    features_unmonitored     predictions with a feature beyond the monitored set
    f:<name>:<bin>           predictions whose feature <name> fell in fine bin <bin>

`<name>` is the feature name percent-encoded (everything but letters, digits, `_`, `.`
and `~`), so no name can reach into the field's `:` structure; `<bin>` is a signed
integer, increasing with the value. A feature's missing count is `featured` minus its
binned count, so a missing value costs nothing to count.

Which features are monitored: the first `ML_FEATURES_MONITORED` names ever seen, offered
in sorted order per prediction, admitted atomically into one Redis set
(`worker/lua/admit_features.lua`), so the number of fields is bounded whatever names
producers send, and every worker agrees on the set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import quote, unquote

FEATURE_PREFIX = "f:"
FEATURED = "featured"
UNMONITORED = "features_unmonitored"
BINS_PER_OCTAVE = 8
MIN_EXPONENT = -20  # |x| < 2**-20 counts as zero
MAX_EXPONENT = 64  # |x| >= 2**64 counts in the top bin
TOP_BIN = (MAX_EXPONENT - MIN_EXPONENT) * BINS_PER_OCTAVE
FINE_BINS = 2 * TOP_BIN + 1  # both signs and zero
_SAFE = "_.~"
_SMALLEST, _LARGEST = 2.0**MIN_EXPONENT, 2.0**MAX_EXPONENT
# index = (exponent - 1 - MIN_EXPONENT) * B + 1 + int((mantissa - 0.5) * 2B), folded
_OFFSET = (-MIN_EXPONENT - 2) * BINS_PER_OCTAVE + 1
_UNKNOWN: dict[int, str] = {}


def encode_name(name: str) -> str:
    """The feature name as it appears in a hash field: percent-encoded, never with `:`."""
    return quote(name.encode("utf-8", "surrogatepass"), safe=_SAFE)


def decode_name(encoded: str) -> str:
    """The name back (a name that was not valid UTF-8 comes back with U+FFFD in it)."""
    return unquote(encoded, errors="replace")


def fine_bin(value: float) -> int:
    """The fine bin of `value`: 0 for zero, +-1..TOP_BIN by magnitude, signed as the value."""
    magnitude = abs(value)
    if magnitude < _SMALLEST:
        return 0
    if magnitude < _LARGEST:
        mantissa, exponent = math.frexp(magnitude)  # mantissa in [0.5, 1)
        index = exponent * BINS_PER_OCTAVE + int(mantissa * 2 * BINS_PER_OCTAVE) + _OFFSET
    else:  # also inf (events allow neither inf nor nan; counted defensively)
        index = TOP_BIN
    return index if value > 0 else -index


def bin_lower_edge(fine: int) -> float:
    """The smallest magnitude in fine bin `fine` (signed as the bin; 0.0 for the zero bin)."""
    if fine == 0:
        return 0.0
    index = abs(fine) - 1
    octave, step = divmod(index, BINS_PER_OCTAVE)
    magnitude = 2.0 ** (octave + MIN_EXPONENT) * (1 + step / BINS_PER_OCTAVE)
    return magnitude if fine > 0 else -magnitude


def bin_upper_edge(fine: int) -> float:
    """The value where fine bin `fine` ends (exclusive for positive bins)."""
    if fine < 0:
        return bin_lower_edge(fine)  # the magnitude nearest zero
    return bin_lower_edge(fine + 1) if fine < TOP_BIN else math.inf


def bin_centre(fine: int) -> float:
    """A representative value of fine bin `fine`, for charts and distances."""
    if fine == 0:
        return 0.0
    low = bin_lower_edge(fine)
    return low * (1 + 0.5 / BINS_PER_OCTAVE)


class FeatureFields:
    """Builds the per-feature fields of a prediction, cheaply (it runs per feature per
    event): one cached field string per (name, fine bin) seen, `fine_bin` inlined.

    A name's fate is decided once, by `record` (True: counted; False: beyond the cap).
    """

    def __init__(self) -> None:
        self._fields: dict[str, dict[int, str] | None] = {}  # None: not monitored

    def record(self, decisions: Mapping[str, bool]) -> None:
        if len(self._fields) > 100_000:  # names beyond the cap are not kept forever
            self._fields = {k: v for k, v in self._fields.items() if v is not None}
        for name, monitored in decisions.items():
            if self._fields.get(name) is None:
                self._fields[name] = {} if monitored else None

    def add(self, features: Mapping[str, float], ones: list[str]) -> bool:
        """Append the fields `features` adds 1 to; False (and nothing appended) when a
        name has not been `record`ed yet."""
        start = len(ones)
        ones.append(FEATURED)
        unmonitored = False
        fields = self._fields
        frexp = math.frexp
        for name, value in features.items():
            by_bin = fields.get(name, _UNKNOWN)
            if by_bin is None:
                unmonitored = True
                continue
            if by_bin is _UNKNOWN:
                del ones[start:]
                return False
            magnitude = value if value >= 0 else -value
            if magnitude < _SMALLEST:
                fine = 0
            elif magnitude < _LARGEST:
                mantissa, exponent = frexp(magnitude)
                fine = exponent * BINS_PER_OCTAVE + int(mantissa * 2 * BINS_PER_OCTAVE) + _OFFSET
                if value < 0:
                    fine = -fine
            else:
                fine = TOP_BIN if value > 0 else -TOP_BIN
            field = by_bin.get(fine)
            if field is None:
                field = by_bin[fine] = f"{FEATURE_PREFIX}{encode_name(name)}:{fine}"
            ones.append(field)
        if unmonitored:
            ones.append(UNMONITORED)
        return True


def feature_histograms(counters: Mapping[str, int]) -> dict[str, dict[int, int]]:
    """Feature name -> {fine bin: count} from a counter dict."""
    histograms: dict[str, dict[int, int]] = {}
    for field, count in counters.items():
        if not field.startswith(FEATURE_PREFIX) or not count:
            continue
        encoded, _, fine = field[len(FEATURE_PREFIX) :].rpartition(":")
        try:
            fine_index = int(fine)
        except ValueError:
            continue  # not a field of this module
        histograms.setdefault(decode_name(encoded), {})[fine_index] = count
    return histograms
