"""Does every k6 sample reach InfluxDB at the highest rate this machine's k6 reaches?

Starts a private influxd (Debian's 1.6.x, the approach of tests/fixtures_influx.py: own
config, data dirs and free loopback ports, no reporting) and a private nginx (one worker, no
access log, the ~200-byte JSON of bench/runner_efficiency.py at /api/users), then runs, one
after the other and never two at once, alternating the order round by round:

  luna          Luna's runner in this process: load_settings(base_url=nginx,
                influxdb_url=influxd, smoke_vus=--vus, smoke_duration=--duration) ->
                prepare_run -> run_k6, i.e. k6/main.js with Luna's INFLUX_ENV
                (tasks/execution/k6.py), one endpoint GET /api/users, checks {status: 200}
  k6-luna       bench/runner_efficiency.py's minimal script (http.get + one status check),
                same VUs and duration, `--out influxdb=...` with Luna's INFLUX_ENV
  k6-conc1      the same, K6_INFLUXDB_CONCURRENT_WRITES=1 (push interval 1 s)
  k6-tags       the same, tags-as-fields off: K6_INFLUXDB_TAGS_AS_FIELDS names a tag that
                never exists (an empty value would leave k6's default vu,iter,url), so url
                (and vu/iter, if k6 emits them) stay tags
  k6-tags-vuiter  k6-tags plus K6_SYSTEM_TAGS = k6's defaults + vu,iter: one series per
                iteration if k6 puts vu/iter on samples as tags (the cardinality case)
  k6-push250ms  k6-luna with K6_INFLUXDB_PUSH_INTERVAL=250ms: batches 4x smaller
  k6-nolimit    k6-luna against a second private influxd whose [http] max-body-size is 0
                (unlimited) instead of 1.x's default 25,000,000 bytes: a batch of k6 samples
                larger than that is refused whole with 413 "Request Entity Too Large"

Each run writes to its own database. After k6 exits (k6 flushes and waits for its writes),
`SELECT count(value) FROM http_reqs WHERE run_id='<id>'` is polled until it is stable (at
most 15 s) and compared with k6's own count (result.total.requests for luna, the
handleSummary http_reqs count otherwise). Also recorded per run: k6's InfluxDB output
warnings and errors (e.g. "The flush operation took higher than the expected set push
interval"), what Luna's run result says about storage (result.influxdb), influxd's log
lines with "error"/"partial write"/"dropped", which of vu/iter/url ended up as tags or fields,
the database's series cardinality, and CPU of k6, nginx + influxd, and others.
Writes bench/results/influx_completeness-<date>.json.

    .venv/bin/python bench/influx_completeness.py                  # 2 rounds x 7 variants x 10 s x 20 VUs
    .venv/bin/python bench/influx_completeness.py --rounds 1 --variants luna,k6-conc1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    K6,
    ROOT,
    CpuWatch,
    free_port,
    loadavg,
    machine,
    median,
    stop,
    table,
    wait_http,
    wait_quiet,
    write_results,
)
from runner_efficiency import BODY, MINIMAL_JS, NGINX_CONF, clean_env

INFLUXD = shutil.which("influxd") or "/usr/bin/influxd"
VARIANTS = ("luna", "k6-luna", "k6-conc1", "k6-tags", "k6-tags-vuiter", "k6-push250ms", "k6-nolimit")
# k6 v1.1's default system tags (k6 docs, "system tags"), plus vu and iter for k6-tags-vuiter.
DEFAULT_SYSTEM_TAGS = (
    "proto,subproto,status,method,url,name,group,check,error,error_code,tls_version,scenario,service,expected_response"
)
FLUSH_SLOW = "flush operation took higher than the expected set push interval"
MAX_KEPT_LINES = 20


class Influxd:
    """A private influxd on free loopback ports (as tests/fixtures_influx.py starts it)."""

    def __init__(self, folder: Path, max_body_size: int | None = None) -> None:
        self.folder = folder
        body = f"  max-body-size = {max_body_size}\n" if max_body_size is not None else ""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (folder / "influxdb.conf").write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{folder}/meta"\n'
            f'[data]\n  dir = "{folder}/data"\n  wal-dir = "{folder}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n{body}'
            "[monitor]\n  store-enabled = false\n"
            "[continuous_queries]\n  enabled = false\n",
            encoding="utf-8",
        )
        self.log = folder / "influxd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [INFLUXD, "-config", str(self.folder / "influxdb.conf")], stdout=log, stderr=log
            )
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"influxd did not start: {self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        stop(self.proc, 15)

    def query(self, db: str, q: str) -> list[dict[str, Any]]:
        from luna.influx import Influx

        client = Influx(self.url, db, timeout=30)
        try:
            return client.query(q)
        finally:
            client.close()

    def create(self, db: str) -> None:
        self.query(db, f'CREATE DATABASE "{db}"')

    def log_lines(self, start: int) -> list[str]:
        """influxd log lines after byte `start` that look like trouble."""
        text = self.log.read_bytes()[start:].decode("utf-8", errors="replace")
        keys = ("error", "partial write", "dropped", "max-values-per-tag", "max-series")
        return [line for line in text.splitlines() if any(k in line.lower() for k in keys)]


def stored_count(influx: Influxd, db: str, run_id: str, limit_s: float = 15.0) -> int:
    """count(value) of http_reqs for the run, polled until two reads agree (bounded)."""
    last: int | None = None
    deadline = time.monotonic() + limit_s
    while True:
        series = influx.query(db, f"SELECT count(value) FROM http_reqs WHERE run_id='{run_id}'")
        now = int(series[0]["values"][0][1]) if series else 0
        if now == last or time.monotonic() >= deadline:
            return now
        last = now
        time.sleep(1.0)


def keys_of(influx: Influxd, db: str) -> dict[str, Any]:
    tags = influx.query(db, "SHOW TAG KEYS FROM http_reqs")
    fields = influx.query(db, "SHOW FIELD KEYS FROM http_reqs")
    card = influx.query(db, "SHOW SERIES CARDINALITY")
    return {
        "http_reqs_tags": sorted(v[0] for s in tags for v in s.get("values", [])),
        "http_reqs_fields": sorted(v[0] for s in fields for v in s.get("values", [])),
        "series_cardinality": sum(int(v[0]) for s in card for v in s.get("values", [])),
    }


def output_messages(log_lines: list[str]) -> dict[str, Any]:
    """k6's InfluxDB-output warnings/errors among its JSON log lines."""
    flush_slow = errors = 0
    kept: list[str] = []
    for line in log_lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(rec, dict) or not str(rec.get("output", "")).lower().startswith("influx"):
            continue
        msg = str(rec.get("msg", ""))
        if FLUSH_SLOW in msg:
            flush_slow += 1
        elif rec.get("level") in ("error", "warning"):
            errors += 1
        if len(kept) < MAX_KEPT_LINES:
            kept.append(line[:400])
    return {"flush_slow_warnings": flush_slow, "other_output_errors": errors, "output_lines": kept}


class Bench:
    def __init__(
        self, tmp: Path, influx: Influxd, nolimit: Influxd | None, base_url: str, vus: int, duration_s: int
    ) -> None:
        self.tmp, self.main_influx, self.nolimit, self.base_url = tmp, influx, nolimit, base_url
        self.influx = influx
        self.vus, self.duration_s = vus, duration_s
        self.n = 0
        (tmp / "minimal.js").write_text(MINIMAL_JS, encoding="utf-8")
        catalog = {
            "service": "bench",
            "endpoints": [
                {
                    "name": "ListUsers",
                    "group": "users",
                    "type": "rest",
                    "method": "GET",
                    "path": "/api/users",
                    "checks": {"status": 200},
                }
            ],
        }
        (tmp / "endpoints.json").write_text(json.dumps(catalog), encoding="utf-8")

    def run(self, variant: str) -> dict[str, Any]:
        self.n += 1
        db = f"bench_{self.n:02d}_{variant.replace('-', '_')}"
        self.influx = self.nolimit if variant == "k6-nolimit" and self.nolimit else self.main_influx
        log_start = self.influx.log.stat().st_size
        out = self.luna(db) if variant == "luna" else self.direct(variant, db)
        out["database"] = db
        out["stored"] = stored_count(self.influx, db, out["run_id"])
        out["stored_fraction"] = out["stored"] / out["k6_requests"] if out["k6_requests"] else None
        out.update(keys_of(self.influx, db))
        out["influxd_trouble"] = self.influx.log_lines(log_start)[:MAX_KEPT_LINES]
        return out

    def luna(self, db: str) -> dict[str, Any]:
        from luna.settings import load_settings
        from tasks.execution.k6 import INFLUX_ENV, run_k6
        from tasks.execution.plan import LoadTestParams, prepare_run

        settings = load_settings(
            base_url=self.base_url,
            influxdb_url=self.influx.url,
            influxdb_bucket=db,
            smoke_vus=self.vus,
            smoke_duration=f"{self.duration_s}s",
        )
        plan = prepare_run(LoadTestParams(profile="smoke", config=str(self.tmp / "endpoints.json")), settings)
        warnings: list[str] = []

        def on_line(level: str, text: str) -> None:
            if level in ("warning", "error") and len(warnings) < MAX_KEPT_LINES:
                warnings.append(text[:400])

        result = run_k6(plan, settings, on_line=on_line, on_progress=lambda f, t: None)
        k6_log = (plan.run_dir / "k6.log").read_text(encoding="utf-8", errors="replace").splitlines()
        return {
            "run_id": plan.run_id,
            "status": result.status,
            "message": result.message,
            "k6_requests": result.total.requests if result.total else None,
            "rps": result.total.rps if result.total else None,
            "influx_env": dict(INFLUX_ENV),
            "luna_influxdb": result.influxdb.model_dump() if result.influxdb else None,
            "luna_warnings": warnings,
            **output_messages(k6_log),
        }

    def direct(self, variant: str, db: str) -> dict[str, Any]:
        from tasks.execution.k6 import INFLUX_ENV

        run_id = f"bench-{self.n:02d}-{variant}"
        summary = self.tmp / f"{self.n:02d}-{variant}.summary.json"
        log = self.tmp / f"{self.n:02d}-{variant}.log"
        env = clean_env()
        env.update({"URL": f"{self.base_url}/api/users", "VUS": str(self.vus), "DURATION": f"{self.duration_s}s"})
        env["SUMMARY_FILE"] = str(summary)
        influx_env = dict(INFLUX_ENV)
        if variant == "k6-conc1":
            influx_env["K6_INFLUXDB_CONCURRENT_WRITES"] = "1"
        if variant in ("k6-tags", "k6-tags-vuiter"):
            influx_env["K6_INFLUXDB_TAGS_AS_FIELDS"] = "luna_no_such_tag"
        if variant == "k6-push250ms":
            influx_env["K6_INFLUXDB_PUSH_INTERVAL"] = "250ms"
        if variant == "k6-tags-vuiter":
            influx_env["K6_SYSTEM_TAGS"] = DEFAULT_SYSTEM_TAGS + ",vu,iter"
        env.update(influx_env)
        cmd = [
            K6,
            "run",
            "--no-usage-report",
            "--address",
            "",
            "--no-color",
            "--log-format",
            "json",
            "--out",
            f"influxdb={self.influx.url}/{db}",
            "--tag",
            f"run_id={run_id}",
            str(self.tmp / "minimal.js"),
        ]
        with log.open("w", encoding="utf-8") as handle:
            done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=handle, timeout=self.duration_s + 120)
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        if done.returncode not in (0, 99):
            raise RuntimeError(f"k6 exited {done.returncode}: {lines[-5:]}")
        data = json.loads(summary.read_text(encoding="utf-8"))
        reqs = data["metrics"]["http_reqs"]["values"]
        return {
            "run_id": run_id,
            "status": f"exit {done.returncode}",
            "k6_requests": int(reqs["count"]),
            "rps": reqs["rate"],
            "influx_env": influx_env,
            **output_messages(lines),
        }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    p.add_argument("--vus", type=int, default=20, help="VUs (default 20)")
    p.add_argument("--rounds", type=int, default=2, help="rounds (default 2)")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, any of {', '.join(VARIANTS)}")
    p.add_argument("--quiet-wait", type=float, default=15.0, help="max wait for other load < 0.25 cores (default 15)")
    p.add_argument("--out-dir", type=Path, default=None, help="where the JSON goes (default bench/results)")
    args = p.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not 1 <= args.rounds <= 10 or not 1 <= args.duration <= 300 or not 1 <= args.vus <= 500:
        p.error(f"bad options (unknown variants: {bad}); rounds 1-10, duration 1-300, vus 1-500")

    for key in list(os.environ):
        if key.startswith(("AUTH_", "LUNA_", "INFLUXDB_", "K6_", "GRAFANA_")) or key in ("BASE_URL", "VUS", "DURATION"):
            del os.environ[key]
    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-influx-"))
    tmp.chmod(0o755)  # nginx's worker runs unprivileged and must read users.json
    os.environ["LUNA_OUT_DIR"] = str(tmp / "out")
    os.chdir(tmp)  # no stray .env is read
    sys.path.insert(0, str(ROOT))

    info = machine()
    info["influxd"] = subprocess.run([INFLUXD, "version"], capture_output=True, text=True, timeout=20).stdout.strip()
    runs: list[dict[str, Any]] = []
    nginx = None
    (tmp / "influxd").mkdir()
    influx = Influxd(tmp / "influxd")
    nolimit = None
    if "k6-nolimit" in variants:
        (tmp / "influxd-nolimit").mkdir()
        nolimit = Influxd(tmp / "influxd-nolimit", max_body_size=0)
    try:
        influx.start()
        if nolimit is not None:
            nolimit.start()
        port = free_port()
        (tmp / "users.json").write_text(json.dumps(BODY, separators=(",", ":")), encoding="utf-8")
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port), encoding="utf-8")
        nginx = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base_url = f"http://127.0.0.1:{port}"
        wait_http(f"{base_url}/api/users", 15, nginx)
        assert influx.proc is not None
        own = [nginx.pid, influx.proc.pid] + ([nolimit.proc.pid] if nolimit and nolimit.proc else [])
        print(
            f"influxd {influx.url}, nginx {base_url}; {args.rounds} rounds x {variants} x {args.duration}s x "
            f"{args.vus} VUs",
            flush=True,
        )
        bench = Bench(tmp, influx, nolimit, base_url, args.vus, args.duration)
        for rnd in range(1, args.rounds + 1):
            for variant in variants if rnd % 2 else list(reversed(variants)):
                time.sleep(1.0)
                quiet = wait_quiet(args.quiet_wait, own_pids=own) if args.quiet_wait > 0 else None
                with CpuWatch(own) as cpu:
                    r = bench.run(variant)
                r.update({"round": rnd, "variant": variant, "foreign_cores_before": quiet, **cpu.as_dict()})
                runs.append(r)
                print(
                    f"  round {rnd} {variant:<15} k6 {r['k6_requests']:>8} stored {r['stored']:>8} "
                    f"({(r['stored_fraction'] or 0) * 100:6.2f}%)  {r['rps']:>8,.0f} req/s  flush-slow "
                    f"{r['flush_slow_warnings']}, output errors {r['other_output_errors']}, influxd trouble "
                    f"{len(r['influxd_trouble'])}; k6 {cpu.generator_cores:.2f} cores, nginx+influxd "
                    f"{cpu.server_cores:.2f}, others {cpu.foreign_cores:.2f}",
                    flush=True,
                )
    finally:
        stop(nginx, 10)
        influx.stop()
        if nolimit is not None:
            nolimit.stop()

    rows, summary = [], {}
    for v in variants:
        mine = [r for r in runs if r["variant"] == v]
        fr = [r["stored_fraction"] for r in mine if r["stored_fraction"] is not None]
        summary[v] = {
            "min_stored_fraction": min(fr) if fr else None,
            "median_stored_fraction": median(fr),
            "median_rps": median([r["rps"] for r in mine]),
            "flush_slow_warnings": sum(r["flush_slow_warnings"] for r in mine),
            "other_output_errors": sum(r["other_output_errors"] for r in mine),
            "all_complete": all(r["stored"] == r["k6_requests"] for r in mine),
        }
        s = summary[v]
        rows.append(
            [
                v,
                median([r["k6_requests"] for r in mine]),
                median([r["stored"] for r in mine]),
                (s["median_stored_fraction"] or 0) * 100,
                (s["min_stored_fraction"] or 0) * 100,
                s["median_rps"],
                s["flush_slow_warnings"],
                s["other_output_errors"],
                median([r["series_cardinality"] for r in mine]),
            ]
        )
    print()
    print(
        table(
            ["variant", "k6 reqs", "stored", "stored %", "min %", "req/s", "flush-slow", "out errors", "series"],
            rows,
        )
    )
    path = write_results(
        "influx_completeness",
        {
            "machine": info,
            "loadavg_at_end": loadavg(),
            "options": {"duration_s": args.duration, "vus": args.vus, "rounds": args.rounds, "variants": variants},
            "summary": summary,
            "runs": runs,
        },
        args.out_dir,
    )
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
