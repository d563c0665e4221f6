"""Does building the reports take as long for a long run as for a short one?

Two real k6 runs through Luna's runner in this process (load_settings -> prepare_run ->
run_k6, no Prefect, as bench/memory_flat.py does) against the bundled demo API
(`python -m app.demo`, default options), smoke profile, SMOKE_VUS=5, an endpoints file
with 3 of the demo's endpoints (ListUsers, GetUser, Search; they do not fail, so
failures.jsonl stays empty): one run of --short s (default 10), one of --long s (default 120).

Then, for each run, the pure functions of the reporting stage (what `evaluate_run` and
`publish_reports` call, without Prefect and its artifacts) are timed --builds times (default
5), alternating short and long so that a drift in machine load favours neither:

  read_series (run_series: Luna's series.json, as publish_reports reads it; k6-report.html
  only for a run that has no series.json) -> evaluate(result, catalog) -> markdown_report ->
  html_report -> badge_svg -> endpoint_table

One untimed build comes first (Jinja compiles its templates once per process) and is
recorded apart as cold_build_ms. Reports the median time per step and in total, the size of
k6-report.html, the number of snapshots in the series (and the dashboard period Luna
chose), the size of report.html, and the ratio long/short of the median total (goal: flat,
i.e. ~1). Writes bench/results/report_generation-<date>.json.

    .venv/bin/python bench/report_generation.py                   # 10 s and 120 s, 5 builds each
    .venv/bin/python bench/report_generation.py --long 300 --builds 7
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, loadavg, machine, median, start_demo, stop, table, write_results

ENDPOINTS = ("ListUsers", "GetUser", "Search")
STEPS = ("read_series", "evaluate", "markdown_report", "html_report", "badge_svg", "endpoint_table")


def three_endpoints(dest: Path) -> Path:
    """The demo's endpoints file cut down to 3 REST endpoints."""
    data = json.loads((ROOT / "k6" / "config" / "endpoints.json").read_text(encoding="utf-8"))
    data["endpoints"] = [e for e in data["endpoints"] if e["name"] in ENDPOINTS]
    assert len(data["endpoints"]) == 3, data["endpoints"]
    dest.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return dest


def k6_run(target: str, config: Path, duration_s: int, vus: int) -> dict[str, Any]:
    from luna.settings import load_settings
    from tasks.execution.k6 import run_k6
    from tasks.execution.plan import LoadTestParams, prepare_run

    settings = load_settings(base_url=target, smoke_duration=f"{duration_s}s", smoke_vus=vus)
    plan = prepare_run(LoadTestParams(profile="smoke", config=str(config)), settings)
    t0 = time.perf_counter()
    result = run_k6(plan, settings, on_line=lambda level, text: None, on_progress=lambda f, t: None)
    wall = time.perf_counter() - t0
    return {"plan": plan, "result": result, "wall_s": wall}


def build_once(plan: Any, result: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """One report build, step by step, as publish_reports/evaluate_run do it (no Prefect)."""
    from tasks.evaluation.slo import evaluate
    from tasks.reporting.render import badge_svg, endpoint_table, html_report, markdown_report
    from tasks.reporting.timeseries import run_series
    from tasks.reporting.view import ReportLinks

    run_dir = Path(result.run_dir)
    times: dict[str, float] = {}
    t = time.perf_counter()
    series = run_series(run_dir, result.files)
    times["read_series"] = time.perf_counter() - t
    t = time.perf_counter()
    verdict = evaluate(result, plan.catalog)
    times["evaluate"] = time.perf_counter() - t
    links = ReportLinks(
        run_dir=str(run_dir), report_html=str(run_dir / "report.html"), badge_svg=str(run_dir / "badge.svg")
    )
    t = time.perf_counter()
    markdown = markdown_report(result, verdict, links)
    times["markdown_report"] = time.perf_counter() - t
    t = time.perf_counter()
    html = html_report(result, verdict, series, links)
    times["html_report"] = time.perf_counter() - t
    t = time.perf_counter()
    badge = badge_svg(verdict)
    times["badge_svg"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = endpoint_table(result, verdict)
    times["endpoint_table"] = time.perf_counter() - t
    times["total"] = sum(times[s] for s in STEPS)
    (run_dir / "report.html").write_text(html, encoding="utf-8")
    facts = {
        "snapshots": len(series) if series is not None else 0,
        "period_s": series.period_s if series is not None else None,
        "report_html_bytes": len(html.encode("utf-8")),
        "markdown_bytes": len(markdown.encode("utf-8")),
        "badge_bytes": len(badge.encode("utf-8")),
        "table_rows": len(rows),
        "verdict": verdict.status,
    }
    return times, facts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--short", type=int, default=10, help="length of the short run in seconds (default 10)")
    p.add_argument("--long", type=int, default=120, help="length of the long run in seconds (default 120)")
    p.add_argument("--vus", type=int, default=5, help="SMOKE_VUS (default 5)")
    p.add_argument("--builds", type=int, default=5, help="report builds per run (default 5)")
    p.add_argument("--out-dir", type=Path, default=None, help="where the JSON goes (default bench/results)")
    args = p.parse_args()
    if not 1 <= args.short < args.long <= 1800 or not 1 <= args.builds <= 50 or not 1 <= args.vus <= 100:
        p.error("need 1 <= short < long <= 1800 s, builds 1-50, vus 1-100")

    # Nothing from the machine's Luna/auth/k6 settings may leak in; run folders go to a temp dir.
    for key in list(os.environ):
        if key.startswith(("AUTH_", "LUNA_", "INFLUXDB_", "K6_", "GRAFANA_")) or key in ("BASE_URL", "VUS", "DURATION"):
            del os.environ[key]
    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-report-"))
    os.environ["LUNA_OUT_DIR"] = str(tmp / "out")
    os.chdir(tmp)  # no stray .env is read
    sys.path.insert(0, str(ROOT))
    # Import cost outside the timings.
    import tasks.evaluation.slo  # noqa: F401
    import tasks.execution.k6  # noqa: F401
    import tasks.reporting.render  # noqa: F401

    info = machine()
    runs: dict[str, dict[str, Any]] = {}
    cold: dict[str, float] = {}
    demo = None
    try:
        demo, target = start_demo()
        config = three_endpoints(tmp / "endpoints.json")
        print(
            f"demo API on {target}; runs of {args.short} s and {args.long} s x {args.vus} VUs, 3 endpoints", flush=True
        )
        for label, d in (("short", args.short), ("long", args.long)):
            r = k6_run(target, config, d, args.vus)
            res = r["result"]
            k6_report = Path(res.run_dir) / "k6-report.html"
            own_series = Path(res.run_dir) / "series.json"
            runs[label] = {
                **r,
                "duration_s": d,
                "status": res.status,
                "message": res.message,
                "requests": res.total.requests if res.total else None,
                "k6_report_bytes": k6_report.stat().st_size if k6_report.is_file() else None,
                "series_json_bytes": own_series.stat().st_size if own_series.is_file() else None,
                "failures_jsonl_bytes": (Path(res.run_dir) / "failures.jsonl").stat().st_size,
                "builds": [],
            }
            print(
                f"  {label}: {d} s run, {runs[label]['requests']} requests, status {res.status}; "
                f"series.json {runs[label]['series_json_bytes']} B; wall {r['wall_s']:.1f} s",
                flush=True,
            )
        # One untimed build first: Jinja compiles the templates on first use (a one-off per
        # process, ~tens of ms), which would otherwise land on whichever run goes first.
        cold, _ = build_once(runs["short"]["plan"], runs["short"]["result"])
        print(f"  cold build (short, not counted) {cold['total'] * 1000:8.1f} ms", flush=True)
        for i in range(args.builds):
            for label in ("short", "long") if i % 2 == 0 else ("long", "short"):
                times, facts = build_once(runs[label]["plan"], runs[label]["result"])
                runs[label]["builds"].append(times)
                runs[label]["facts"] = facts
                print(
                    f"  build {i + 1} {label:<5} {times['total'] * 1000:8.1f} ms  snapshots {facts['snapshots']}",
                    flush=True,
                )
    finally:
        stop(demo, 10)

    out: dict[str, Any] = {}
    rows = []
    for label, r in runs.items():
        med = {k: median([b[k] for b in r["builds"]]) for k in (*STEPS, "total")}
        out[label] = {
            "duration_s": r["duration_s"],
            "status": r["status"],
            "message": r["message"],
            "requests": r["requests"],
            "k6_report_bytes": r["k6_report_bytes"],
            "failures_jsonl_bytes": r["failures_jsonl_bytes"],
            **r.get("facts", {}),
            "median_ms": {k: round(v * 1000, 3) for k, v in med.items() if v is not None},
            "builds_ms": [{k: round(v * 1000, 3) for k, v in b.items()} for b in r["builds"]],
        }
        f = r.get("facts", {})
        rows.append(
            [
                f"{r['duration_s']} s",
                r["requests"],
                (r["k6_report_bytes"] or 0) / 1024,
                f.get("snapshots"),
                f.get("period_s"),
                med["read_series"] * 1000,
                med["html_report"] * 1000,
                med["total"] * 1000,
                f.get("report_html_bytes", 0) / 1024,
            ]
        )
    shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(
        table(
            [
                "run",
                "requests",
                "k6-report KiB",
                "snapshots",
                "period s",
                "read_series ms",
                "html_report ms",
                "total ms",
                "report.html KiB",
            ],
            rows,
        )
    )
    ratio = None
    if "short" in out and "long" in out and out["short"]["median_ms"].get("total"):
        ratio = out["long"]["median_ms"]["total"] / out["short"]["median_ms"]["total"]
        print(f"\nmedian report build long/short = {ratio:.2f} (run length x{args.long / args.short:.0f})")
    path = write_results(
        "report_generation",
        {
            "machine": info,
            "loadavg_at_end": loadavg(),
            "options": {
                "short_s": args.short,
                "long_s": args.long,
                "vus": args.vus,
                "builds": args.builds,
                "endpoints": list(ENDPOINTS),
            },
            "ratio_long_over_short": ratio,
            "cold_build_ms": {k: round(v * 1000, 3) for k, v in cold.items()},
            **out,
        },
        args.out_dir,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
