"""HDR histograms of request durations: recorded in integer microseconds from 1 µs to one
hour with 3 significant digits, so any percentile read back is within 0.1 % (plus 1 µs of
rounding) of the exact one, and histograms from many shards add up exactly."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: a longer request is clamped (k6's own timeout is 60 s)
SIGNIFICANT_DIGITS = 3
MAX_US = 2_147_483_647  # k6/lib/measure.js's clamp (35 min; k6's request timeout is far below it)
RELATIVE_PRECISION = 10.0**-SIGNIFICANT_DIGITS


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def to_us(ms: float) -> int:
    """A duration in ms (k6's unit) as whole microseconds within the histogram's range."""
    return min(HIGHEST_US, max(LOWEST_US, round(ms * 1000)))


def from_counts(counts: Counter[int]) -> HdrHistogram:
    """A histogram from {microseconds: count}; one record call per distinct value, which is
    what keeps recording millions of samples affordable in pure Python."""
    hist = new_histogram()
    for value, count in counts.items():
        hist.record_value(value, count)
    return hist


def encode(hist: HdrHistogram) -> str:
    """The standard compressed HdrHistogram encoding (base64), readable by any HDR library."""
    return hist.encode().decode("ascii")


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def merged(encoded: Iterable[str]) -> HdrHistogram:
    """The exact sum of several encoded histograms."""
    total = new_histogram()
    for text in encoded:
        total.decode_and_add(text.encode("ascii"))
    return total


def percentile_ms(hist: HdrHistogram, percentile: float) -> float | None:
    """The value at `percentile` in ms (the highest value equivalent to the sample at that
    rank), or None for an empty histogram."""
    if hist.get_total_count() == 0:
        return None
    return float(hist.get_value_at_percentile(percentile)) / 1000


def hdr_buckets(durations_ms: np.ndarray) -> np.ndarray:
    """The lowest value of each duration's HDR bucket (2048 sub-buckets: 3 digits), from its
    whole µs rounded half up within 1..MAX_US."""
    us = np.floor(durations_ms * 1000 + 0.5)
    us = np.clip(us, 1, MAX_US).astype(np.int64)
    _, exponent = np.frexp(us.astype(np.float64))  # exponent = bit length of us
    shift = np.maximum(exponent - 11, 0)
    return (us >> shift) << shift
