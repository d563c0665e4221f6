"""Token prices of Claude models, US dollars per million tokens (Anthropic's published
list prices; see docs/AUDITS.md). Cache writes cost 1.25 x input and cache reads 0.1 x.
A model not in the table gets no cost (None) rather than a wrong one."""

from __future__ import annotations

from tasks.visual_qa.model import Usage

# model id prefix -> (input, output) $/MTok. Longest matching prefix wins, so dated ids
# ("claude-sonnet-4-5-20250929") match their family.
PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-3-haiku": (0.25, 1.25),
}
CACHE_WRITE, CACHE_READ = 1.25, 0.1


def price_of(model: str) -> tuple[float, float] | None:
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else None


def cost_usd(model: str, usage: Usage) -> float | None:
    price = price_of(model)
    if price is None:
        return None
    per_in, per_out = price[0] / 1e6, price[1] / 1e6
    total = (
        usage.input_tokens * per_in
        + usage.cache_creation_input_tokens * per_in * CACHE_WRITE
        + usage.cache_read_input_tokens * per_in * CACHE_READ
        + usage.output_tokens * per_out
    )
    return round(total, 6)
