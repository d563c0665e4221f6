"""k6 execution segments: shard i of n runs `--execution-segment i/n:(i+1)/n` of the same
`--execution-segment-sequence`, so the shards' iterations add up to exactly the plan's
(k6 stripes arrival-rate iterations over the sequence; no iteration is run twice)."""

from __future__ import annotations

from fractions import Fraction

from pydantic import BaseModel, Field

from luna.errors import ConfigError

MAX_SHARDS = 64


class Segment(BaseModel):
    """One shard's slice of the test."""

    index: int = Field(description="Shard number, 0-based.")
    count: int = Field(description="Number of shards in the run.")
    segment: str = Field(description="k6 --execution-segment, e.g. 1/3:2/3.")
    sequence: str = Field(description="k6 --execution-segment-sequence shared by every shard.")

    @property
    def label(self) -> str:
        return f"shard {self.index + 1}/{self.count}"

    def k6_args(self) -> list[str]:
        if self.count == 1:
            return []
        return ["--execution-segment", self.segment, "--execution-segment-sequence", self.sequence]


def _fraction(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def segments(count: int) -> list[Segment]:
    """`count` equal segments covering 0..1 exactly (as fractions, never rounded floats)."""
    if not 1 <= count <= MAX_SHARDS:
        raise ConfigError(
            f"shards must be between 1 and {MAX_SHARDS}, got {count}",
            location="shards",
            tip="one k6 process drives tens of thousands of VUs; use a few shards per load machine",
        )
    cuts = [Fraction(i, count) for i in range(count + 1)]
    sequence = ",".join(_fraction(c) for c in cuts)
    return [
        Segment(index=i, count=count, segment=f"{_fraction(cuts[i])}:{_fraction(cuts[i + 1])}", sequence=sequence)
        for i in range(count)
    ]
