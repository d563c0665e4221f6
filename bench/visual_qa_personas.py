"""How long do all 31 visual-QA personas take on one page?

The bundled demo API (`python -m app.demo`) serves /qa-lab (the page with planted
problems). A local server speaking the Anthropic Messages wire format
(tests/fake_anthropic.py) answers every model call after --latency s (default 2.0, a
realistic time for a Sonnet call with two screenshots). Luna's own functions run, as the
`visual_qa` flow's tasks call them: `capture_step` (Playwright + Debian's Chromium, one
page load per viewport, probes included) then `personas_step` (the real `anthropic` SDK,
VISUAL_QA_CONCURRENCY calls in flight). Repeated --repeat times (default 2) for each
concurrency in --concurrency (default 8,16,31).

Reports, per concurrency: capture time, persona-call time, wall time, the number of
screenshot sets taken (goal: 3, one per viewport, not 31), the most calls the fake saw in
flight, the wall time expressed in sequential call-times (wall / latency; 31 without
concurrency), and the run's cost at Sonnet 4.5 prices from the fake's token counts (which
follow the API's image-token rule and simulate the prompt cache), with and without the
cache. Writes bench/results/visual_qa_personas-<date>.json.

    .venv/bin/python bench/visual_qa_personas.py
    .venv/bin/python bench/visual_qa_personas.py --latency 2 --concurrency 1,8 --repeat 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, loadavg, machine, median, start_demo, stop, table, write_results

sys.path.insert(0, str(ROOT))

from luna.settings import load_settings  # noqa: E402
from tasks.visual_qa.personas import load_personas  # noqa: E402
from tasks.visual_qa.run import capture_step, personas_step  # noqa: E402
from tests.fake_anthropic import API_KEY, FakeAnthropic  # noqa: E402


def one_run(url: str, fake: FakeAnthropic, concurrency: int, out: Path) -> dict[str, Any]:
    settings = load_settings(
        visual_qa_ai_key=API_KEY, visual_qa_ai_base_url=fake.url, visual_qa_concurrency=concurrency, luna_out_dir=out
    )
    personas = load_personas()
    run_dir = out / f"run-{concurrency}-{time.monotonic_ns()}"
    run_dir.mkdir(parents=True)
    fake.requests.clear()
    fake.forget_cache()  # each run starts cold, as a run more than 5 minutes after the last one would
    fake.max_in_flight = 0
    t0 = time.monotonic()
    captures, probe = capture_step(url, personas, run_dir, settings)
    t1 = time.monotonic()
    outcomes, _ = personas_step(personas, url, captures, run_dir, settings, lambda _: None)
    t2 = time.monotonic()
    answered = sum(1 for o in outcomes if o.status == "ok")
    if answered != len(personas):
        raise RuntimeError(
            f"only {answered}/{len(personas)} personas answered: {[o.error for o in outcomes if o.error]}"
        )
    return {
        "concurrency": concurrency,
        "capture_s": round(t1 - t0, 2),
        "personas_s": round(t2 - t1, 2),
        "wall_s": round(t2 - t0, 2),
        "screenshot_sets": len(captures),
        "probe_findings": len(probe.findings),
        "model_calls": len(fake.requests),
        "max_in_flight": fake.max_in_flight,
        "input_tokens": sum(o.usage.input_tokens for o in outcomes),
        "cache_write_tokens": sum(o.usage.cache_creation_input_tokens for o in outcomes),
        "cache_read_tokens": sum(o.usage.cache_read_input_tokens for o in outcomes),
        "output_tokens": sum(o.usage.output_tokens for o in outcomes),
        "cost_usd": round(sum(o.usage.cost_usd or 0.0 for o in outcomes), 4),
        "cost_without_cache_usd": round(
            sum(
                (o.usage.input_tokens + o.usage.cache_creation_input_tokens + o.usage.cache_read_input_tokens) * 3e-6
                + o.usage.output_tokens * 15e-6
                for o in outcomes
            ),
            4,
        ),
        "loadavg_after": loadavg(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=2.0, help="seconds per model call at the fake")
    ap.add_argument("--concurrency", default="8,16,31", help="comma-separated VISUAL_QA_CONCURRENCY values")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    proc, base = start_demo()
    runs: list[dict[str, Any]] = []
    try:
        with FakeAnthropic(latency_s=args.latency) as fake, tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeat):
                for level in levels:
                    runs.append(one_run(f"{base}/qa-lab", fake, level, Path(tmp)))
                    r = runs[-1]
                    print(f"concurrency {level}: wall {r['wall_s']} s (capture {r['capture_s']} s)", flush=True)
    finally:
        stop(proc)
    rows, summary = [], []
    for level in levels:
        mine = [r for r in runs if r["concurrency"] == level]
        wall = median([r["wall_s"] for r in mine]) or 0.0
        item = {
            "concurrency": level,
            "median_capture_s": median([r["capture_s"] for r in mine]),
            "median_personas_s": median([r["personas_s"] for r in mine]),
            "median_wall_s": wall,
            "wall_in_call_times": round(wall / args.latency, 1),
            "screenshot_sets": mine[0]["screenshot_sets"],
            "max_in_flight": max(r["max_in_flight"] for r in mine),
            "cost_usd": mine[0]["cost_usd"],
            "cost_without_cache_usd": mine[0]["cost_without_cache_usd"],
        }
        summary.append(item)
        rows.append(list(item.values()))
    print(table(list(summary[0]), rows))
    print(f"sequential would be 31 x {args.latency} s = {31 * args.latency:.0f} s of model calls alone")
    path = write_results(
        "visual_qa_personas",
        {"machine": machine(), "latency_s": args.latency, "personas": 31, "summary": summary, "runs": runs},
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
