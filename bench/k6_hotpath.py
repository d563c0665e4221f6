"""What Luna's per-call measure costs inside k6's JavaScript engine, per call, no network.

One k6 VU times N calls of `Measure.add()` of the tree's `k6/lib/measure.js` (raw: a float64
and a uint32 per call into typed arrays, sent base64-encoded once a flush is due) against
`aggregate`, a copy of the measure Luna had before (2026-12-03: per-endpoint tallies and an
HDR Map per endpoint in the VU, sent as JSON rows), with the same durations and the same flush
cadence (every --per calls, as a VU doing that many calls a second flushes once a second),
for 1, 20 and 200 endpoints. Both are timed in the same k6 process, alternating, --rounds
times; the figure is the median µs per call (the bare loop's cost subtracted).

    .venv/bin/python bench/k6_hotpath.py                      # 200,000 calls, 3 rounds
    .venv/bin/python bench/k6_hotpath.py --calls 500000 --per 800 --endpoints 1,200

Writes bench/results/k6_hotpath-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import K6, machine, write_results

ROOT = Path(__file__).resolve().parent.parent

# The measure as it was before the raw design (k6/lib/measure.js at dcedc92), reduced to
# add() and flush(): the per-call work it did in the VU.
AGGREGATE_JS = r"""
const MAX_US = 2147483647;
function emptyAcc(c) {
  return { n: 0, failed: 0, sat: 0, tol: 0, hops: 0, offsite: 0, sum: 0, min: Infinity, max: -Infinity,
    pass: new Array(c).fill(0), fail: new Array(c).fill(0), hist: new Map() };
}
function resetAcc(a) {
  a.n = 0; a.failed = 0; a.sat = 0; a.tol = 0; a.hops = 0; a.offsite = 0;
  a.sum = 0; a.min = Infinity; a.max = -Infinity; a.pass.fill(0); a.fail.fill(0); a.hist.clear();
}
export class Aggregate {
  constructor(endpoints) {
    this.labels = endpoints.map((ep) => ep.checkLabels);
    this.accs = endpoints.map((ep) => emptyAcc(ep.checkLabels.length));
    this.touched = []; this.calls = 0; this.due = Infinity;
  }
  add(i, durationMs, failed, zone, hops, offsite, checks) {
    const a = this.accs[i];
    if (a.n === 0) this.touched.push(i);
    a.n += 1; this.calls += 1;
    if (failed) a.failed += 1;
    if (zone === 2) a.sat += 1; else if (zone === 1) a.tol += 1;
    if (hops !== 0) a.hops += hops;
    if (offsite) a.offsite += 1;
    a.sum += durationMs;
    if (durationMs < a.min) a.min = durationMs;
    if (durationMs > a.max) a.max = durationMs;
    if (checks !== null) for (let j = 0; j < checks.length; j++) { if (checks[j]) a.pass[j] += 1; else a.fail[j] += 1; }
    let us = durationMs < 0.0015 ? 1 : durationMs >= MAX_US / 1000 ? MAX_US : (durationMs * 1000 + 0.5) | 0;
    if (us >= 2048) { const shift = 21 - Math.clz32(us); us = (us >> shift) << shift; }
    const seen = a.hist.get(us);
    a.hist.set(us, seen === undefined ? 1 : seen + 1);
    const now = Date.now();
    if (now >= this.due) this.flush(now);
  }
  flush(now) {
    this.calls = 0;
    if (this.touched.length === 0) return;
    const rows = [];
    for (const i of this.touched) {
      const a = this.accs[i];
      const hist = [];
      a.hist.forEach((count, key) => hist.push(key, count));
      rows.push([i, a.n, a.failed, a.sat, a.tol, a.hops, a.offsite, a.sum, a.min, a.max, a.pass.slice(), a.fail.slice(), hist, this.labels[i]]);
      resetAcc(a);
    }
    this.touched = [];
    console.log(`LUNA_AGG ${JSON.stringify(rows)}`);
  }
}
"""

SCRIPT_JS = r"""
import { Measure } from '{lib}/measure.js';
import { Aggregate } from './aggregate.js';
const E = __ENV;
const N = parseInt(E.CALLS, 10), PER = parseInt(E.PER, 10), EPS = parseInt(E.EPS, 10), ROUNDS = parseInt(E.ROUNDS, 10);
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '30m' } } };
function eps() { const a = []; for (let i = 0; i < EPS; i++) a.push({ checkLabels: ['status is 200'] }); return a; }
function time(f) { const t0 = Date.now(); f(); return ((Date.now() - t0) * 1000) / N; }
export default function () {
  // durations of a loopback service: 0.2-3 ms, µs resolution (many distinct HDR buckets)
  const D = new Float64Array(4096);
  for (let i = 0; i < D.length; i++) D[i] = 0.2 + Math.random() * 2.8;
  const checks = [true];
  const raw = new Measure(eps(), { executor: 'constant-vus', duration: '1h', vus: 1 });
  raw.maybeFlush(Date.now());
  raw.due = Infinity; // flushed every PER calls below, as `aggregate` is
  const agg = new Aggregate(eps());
  const word = (1 << 24) | (2 << 17);
  const out = { loop: [], raw: [], aggregate: [] };
  for (let r = 0; r < ROUNDS; r++) {
    out.loop.push(time(() => { let s = 0; for (let k = 0; k < N; k++) { s += D[k & 4095] + (k % EPS); if (k % PER === 0) s += 1; } }));
    out.raw.push(time(() => { for (let k = 0; k < N; k++) { raw.add(D[k & 4095], (k % EPS) | word); if (k % PER === 0) raw.flush(0); } }));
    out.aggregate.push(time(() => { for (let k = 0; k < N; k++) { agg.add(k % EPS, D[k & 4095], false, 2, 0, false, checks); if (k % PER === 0) agg.flush(0); } }));
  }
  console.warn(`HOTPATH ${JSON.stringify(out)}`);
}
"""


def run(endpoints: int, calls: int, per: int, rounds: int, work: Path) -> dict[str, Any]:
    env = {"CALLS": str(calls), "PER": str(per), "EPS": str(endpoints), "ROUNDS": str(rounds)}
    cmd = [K6, "run", "--no-usage-report", "--no-summary", "--quiet", "--log-format", "raw"]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    done = subprocess.run([*cmd, str(work / "hotpath.js")], capture_output=True, text=True, timeout=1800)
    found = re.search(r"HOTPATH (\{.*\})", done.stdout + done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"k6 failed ({done.returncode}): {(done.stderr or done.stdout)[-500:]}")
    times: dict[str, list[float]] = json.loads(found.group(1))
    loop = statistics.median(times["loop"])
    med = {k: round(statistics.median(v) - loop, 3) for k, v in times.items() if k != "loop"}
    return {
        "endpoints": endpoints,
        "us_per_call": med,
        "aggregate_over_raw": round(med["aggregate"] / med["raw"], 2) if med["raw"] > 0 else None,
        "rounds_us": times,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--per", type=int, default=1600, help="calls between flushes")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--endpoints", default="1,20,200")
    ap.add_argument("--out-dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="luna-hotpath-") as tmp:
        work = Path(tmp)
        (work / "aggregate.js").write_text(AGGREGATE_JS, encoding="utf-8")
        (work / "hotpath.js").write_text(SCRIPT_JS.replace("{lib}", str(ROOT / "k6" / "lib")), encoding="utf-8")
        results = []
        for n in (int(x) for x in args.endpoints.split(",")):
            one = run(n, args.calls, args.per, args.rounds, work)
            results.append(one)
            print(
                f"{n:>4} endpoints: raw {one['us_per_call']['raw']} us/call, aggregate "
                f"{one['us_per_call']['aggregate']} us/call ({one['aggregate_over_raw']}x)",
                flush=True,
            )
    path = write_results(
        "k6_hotpath",
        {"machine": machine(), "args": vars(args) | {"out_dir": str(args.out_dir)}, "results": results},
        out_dir=args.out_dir,
    )
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
