"""How long suite generation takes for a large API, and what a generated suite costs to run.

Generates from the synthetic 1,250-operation spec of `discovery_large_spec.py` (250
resources x 5 operations, through discovery's `load_source`), then measures:

- a first generation (all four parts; every Python file formatted with one ruff call),
- a regeneration from the same input (must write nothing),
- `pytest --collect-only` of the generated API suite (every module imported),
- the demo API's generated suite run for real (`run_suite_dir`, api + ui + k6 2 s).

Loopback only. Re-run: `.venv/bin/python bench/suite_generation.py [--resources 250] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import PYTHON, ROOT, loadavg, machine, median, start_demo, stop, table, write_results  # noqa: E402
from bench.discovery_large_spec import generate  # noqa: E402
from luna.settings import load_settings  # noqa: E402
from tasks.generation.runner import run_suite_dir  # noqa: E402
from tasks.generation.suites import GenerateParams, generate_suite  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=250)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings()
    first, again, collect, demo_run = [], [], [], []
    files = tests = 0
    with tempfile.TemporaryDirectory(prefix="luna-bench-gen-") as scratch:
        work = Path(scratch)
        spec = work / "spec.json"
        spec.write_text(json.dumps(generate(args.resources)), encoding="utf-8")
        for n in range(args.runs):
            out = work / f"suites{n}"
            params = GenerateParams(specs=[str(spec)], base_url="http://127.0.0.1:9", out_dir=str(out))
            started = time.perf_counter()
            made = generate_suite(params, settings)
            first.append(time.perf_counter() - started)
            files, tests = len(made.written), (made.manifest.tests.get("api", 0) if made.manifest else 0)
            started = time.perf_counter()
            redo = generate_suite(params, settings)
            again.append(time.perf_counter() - started)
            assert not redo.written, redo.written
            started = time.perf_counter()
            done = subprocess.run(
                [PYTHON, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(made.suite_dir / "api")],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            collect.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stdout[-500:]
        proc, url = start_demo("--error-rate", "0")
        try:
            for n in range(args.runs):
                made = generate_suite(GenerateParams(url=url, out_dir=str(work / f"demo{n}")), settings)
                started = time.perf_counter()
                result = run_suite_dir(
                    made.suite_dir, ["api", "ui", "k6"], settings=settings, out_dir=work / f"run{n}", k6_duration="2s"
                )
                demo_run.append(time.perf_counter() - started)
                cases = len(result.cases)
        finally:
            stop(proc)
    rows = [
        [f"generate {tests} API tests ({files} files)", f"{median(first):.2f} s"],
        ["regenerate, same input (nothing written)", f"{median(again):.2f} s"],
        ["pytest --collect-only of that API suite", f"{median(collect):.2f} s"],
        [f"demo suite run: api + ui + k6 2 s ({cases} rows)", f"{median(demo_run):.2f} s"],
    ]
    print(table(["step", "median"], rows))
    print(f"load average: {loadavg()}")
    write_results(
        "suite_generation",
        {
            "machine": machine(),
            "resources": args.resources,
            "runs": args.runs,
            "api_tests": tests,
            "files": files,
            "first_s": first,
            "regenerate_s": again,
            "collect_s": collect,
            "demo_run_s": demo_run,
            "loadavg_end": loadavg(),
        },
    )


if __name__ == "__main__":
    main()
