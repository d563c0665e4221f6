"""How much throughput Luna's generic k6 runner (k6/main.js) costs against a hand-written script.

Starts a private nginx on 127.0.0.1:<free port> (config in a temp dir, one worker, no access
log) serving a ~200-byte static JSON file at /api/users, then runs these load generators one
after the other, never two at once, alternating them round by round:

  minimal  a hand-written k6 script: http.get(url) plus one status check (constant VUs)
  runner   Luna's k6/main.js as Luna runs it (--no-thresholds --no-summary, the VUs' measure
           lines added up by tasks/execution/measure.py), PROFILE=smoke with
           SMOKE_VUS/SMOKE_DURATION, an endpoints file of N endpoints (--endpoints, default 1),
           each with checks {status: 200}: the same one check as minimal, N names, one URL
  wrk      wrk -t2 -c<VUs> -d<duration>: the machine's ceiling for this server

With `--endpoints 1,20,200` every runner variant runs once per endpoint count, named
`runner@20` etc.; `minimal` and the probes do not depend on it.

Profiling variants (add them with --variants) isolate what the runner costs:

  runner+body_path  runner, checks {status: 200, body_path: "data"} (a JSON lookup per response)
  runner-nochecks   runner, endpoint without checks (no check() call at all)
  runner+systags    runner with only the system tags Luna's dashboards read (SYSTEM_TAGS)
  runner+dashboard  runner with k6's web dashboard and its export on (LUNA_K6_DASHBOARD=true;
                    Luna's default until 2026-12-04)
  runner+cli-tags   runner with the test-wide --tag run_id/profile/service Luna passes
  runner-nosystags  runner with --system-tags "" (no system tag on any sample)
  runner+k6summary  runner with k6's end-of-test summary on (no --no-summary/--no-thresholds):
                    what k6's metrics engine costs when it ingests every sample
  minimal-nocheck   minimal without its check() call: what one check costs
  minimal+tags      minimal + name/group tags on the request and check, a global service tag
  minimal+global-th minimal + the two global thresholds of main.js (no tags, no submetrics)
  minimal+sub-th    minimal + tags + main.js's per-endpoint thresholds ({name:X} submetrics)
  minimal+callback  minimal + responseCallback: http.expectedStatuses(200)
  minimal+body_path minimal + a second check doing what checks.body_path does: r.json('data')
  minimal+json_parse minimal + a second check reading JSON.parse(r.body).data instead
  minimal+2nd-check minimal + a second, trivial check (r.status !== 0): the cost of a 2nd check
  minimal+redirects0 minimal with params {redirects: 0} (what the runner sends on every request)
  minimal+request   minimal through http.request('GET', url, null, params), as the runner calls
  minimal+request+r0 both
  minimal-luna-opts all of the above plus main.js's summaryTrendStats: main.js's options
                    around the minimal code path

Ablation variants of the runner (issue 15): k6/main.js's own code (k6/lib/*.js, imported from
the tree) with one piece switched off at a time, side by side with `runner` in the same round.
Their request count is k6's count of complete iterations (one call per iteration here):

  runner-nopick     every call goes to the first endpoint (no weighted pick; the other
                    endpoints are compiled and measured as usual)
  runner-nochecks   (above) no checks run
  runner-notail     no flush after every call in the last 1.5 s (measure.js stop windows)
  runner-nomeasure  measure.add() is a no-op (no tallies, no histogram, no LUNA_AGG lines)
  runner-bare       pick + http.request with the endpoint's own params, nothing else
                    (no compiled call: no redirect test, checks, failure test, Apdex zone, measure)
  runner-bare+status, +timings, +both, +datenow
                    runner-bare reading res.status, res.timings.duration, both, or Date.now()
  runner-bare-nopick  runner-bare, every call to the first endpoint
  runner-bare+shared-params, +shared-both
                    runner-bare with one params object for every endpoint (and one URL string)
  runner-bare-nopick+random  runner-bare-nopick plus one Math.random() call
  runner-soa        bare calls from arrays (method, URL, body, params by index), no objects
  runner-soa+shared-params   the same with one params object
  runner-ref        k6/main.js of another tree (--ref-k6-dir, e.g. a `git worktree` of the
                    previous commit), run as `runner` is: before/after in the same rounds
                    (counted by k6's complete iterations: its measure lines may differ)

k6 RPS is metrics.http_reqs.values.rate of a handleSummary JSON for minimal and the probes,
and Luna's own count of calls over k6's clock for the runner. Reports the median RPS per variant, runner/minimal (goal >= 0.9) and each as a
fraction of wrk, and requests per CPU-second of the load generator (k6 or wrk), which
is what a request costs the generator and is far less disturbed by other load. Writes bench/results/runner_efficiency-<date>.json.

--paired runs each variant at the same time as a minimal run of its own (two k6 processes
started together against the same nginx; each one's CPU from its own rusage, os.wait4) and
takes the ratio within the pair: both meet the same neighbours, CPU frequency and server, so
the per-round ratios spread ±2% where runs made one after the other spread ±10%
(docs/PERFORMANCE.md). Without it, runs are sequential as described above.

The machine is small (2 cores) and may be shared: before each run the script waits (at most
--quiet-wait s) for other work to drop below 0.25 cores, and records per run how many cores
other processes used meanwhile (`foreign_cores`; see _common.CpuWatch). Round order alternates
(forward, then reversed) so a drift in background load does not favour one variant.

    .venv/bin/python bench/runner_efficiency.py                      # 3 rounds x 10 s x 20 VUs
    .venv/bin/python bench/runner_efficiency.py --rounds 5 --duration 15
    .venv/bin/python bench/runner_efficiency.py --variants minimal,runner,runner-nochecks,wrk
    .venv/bin/python bench/runner_efficiency.py --variants minimal,runner --endpoints 1,20,200
    .venv/bin/python bench/runner_efficiency.py --paired --variants minimal,runner --endpoints 1,20,200
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
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

BODY = {
    "data": [
        {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com"},
        {"id": 2, "name": "Alan Turing", "email": "alan@example.com"},
        {"id": 3, "name": "Grace Hopper", "email": "grace@example.com"},
    ],
    "page": 1,
    "total": 3,
}

NGINX_CONF = """daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        access_log off;
        location = /api/users {{
            default_type application/json;
            alias {tmp}/users.json;
        }}
    }}
}}
"""

MINIMAL_JS = """import http from 'k6/http';
import { check } from 'k6';

const URL = __ENV.URL;
export const options = {
  scenarios: { minimal: { executor: 'constant-vus', vus: parseInt(__ENV.VUS, 10), duration: __ENV.DURATION } },
};

export default function () {
  const res = http.get(URL);
  check(res, { 'status is 200': (r) => r.status === 200 });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY_FILE]: JSON.stringify(data) };
}
"""

# The minimal script with main.js's options switched on one by one (env flags), to find
# which of them costs throughput (see k6/main.js thresholds() and options, lib/endpoints.js).
PROBE_JS = """import http from 'k6/http';
import { check } from 'k6';

const E = __ENV;
const N = 'ListUsers';
const URL = E.URL;
const TAGS = E.P_TAGS ? { name: N, group: 'users' } : undefined;
const th = {};
if (E.P_GLOBAL_TH) {
  th.http_req_duration = ['p(95)<500'];
  th.http_req_failed = ['rate<=0.01'];
}
if (E.P_SUB_TH) {
  th[`http_req_duration{name:${N}}`] = ['p(95)<500'];
  th[`http_req_failed{name:${N}}`] = ['rate<=0.01'];
  th[`http_reqs{name:${N}}`] = ['count>=0'];
  th[`checks{name:${N}}`] = ['rate>=0'];
}
export const options = {
  scenarios: { probe: { executor: 'constant-vus', vus: parseInt(E.VUS, 10), duration: E.DURATION } },
  thresholds: th,
};
if (E.P_TRENDSTATS) options.summaryTrendStats = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'];
if (E.P_TAGS) {
  options.tags = { service: 'bench' };
  options.scenarios.probe.tags = { profile: 'smoke' };
}
const params = TAGS ? { tags: TAGS } : {};
if (E.P_CALLBACK) params.responseCallback = http.expectedStatuses(200);
if (E.P_REDIRECTS0) params.redirects = 0;
const CHECKS = { 'status is 200': (r) => r.status === 200 };
if (E.P_BODY_PATH) {
  // What lib/checks.js does for checks.body_path.
  CHECKS['body has data'] = (r) => {
    try {
      const v = r.json('data');
      return v !== undefined && v !== null;
    } catch (e) {
      return false;
    }
  };
}
if (E.P_BODY_PARSE) {
  // Cheaper alternative candidate: parse the body in JS, no k6 selector.
  CHECKS['body has data (JSON.parse)'] = (r) => {
    try {
      const v = JSON.parse(r.body).data;
      return v !== undefined && v !== null;
    } catch (e) {
      return false;
    }
  };
}
if (E.P_TWO_CHECKS) CHECKS['status is not 0'] = (r) => r.status !== 0;

export default function () {
  const res = E.P_REQUEST ? http.request('GET', URL, null, params) : http.get(URL, params);
  if (!E.P_NO_CHECK) check(res, CHECKS, TAGS);
}

export function handleSummary(data) {
  return { [E.SUMMARY_FILE]: JSON.stringify(data) };
}
"""
# k6/main.js's run() with one piece switched off (the ABLATIONS flags); the lib code is the tree's.
ABLATION_JS = """import http from 'k6/http';
import { buildScenario } from '{lib}/profiles.js';
import { loadCatalog, compileCatalog, pick, call } from '{lib}/endpoints.js';
import { Measure } from '{lib}/measure.js';

const E = __ENV;
const CATALOG = loadCatalog(E.ENDPOINTS_FILE);
export const options = { scenarios: { smoke: Object.assign({ exec: 'run' }, buildScenario('smoke', 'closed')) } };
const COMPILED = compileCatalog(CATALOG, E.BASE_URL);
const MEASURE = new Measure(COMPILED.endpoints, options.scenarios.smoke);
const NOOP = { add() {} };
if (E.A_NOTAIL) {
  MEASURE.policy = { always: false, windows: [] };
  MEASURE.lastFlush = Date.now();
}
for (const ep of COMPILED.endpoints) ep.params = { redirects: 0 }; // the bench's endpoints have no headers
const FIRST = COMPILED.endpoints[0];
for (const ep of COMPILED.endpoints) {
  if (E.A_SHARED_PARAMS) ep.params = FIRST.params;
  if (E.A_SHARED_URL) ep.url = FIRST.url;
}
const SINK = { s: 0, d: 0, t: 0 };
const EPS = COMPILED.endpoints;
const METHODS = EPS.map((ep) => ep.method);
const URLS = EPS.map((ep) => ep.url);
const BODIES = EPS.map((ep) => ep.body);
const PARAMS = EPS.map((ep) => ep.params);
const M = E.A_NOMEASURE ? NOOP : MEASURE;

export function run() {
  if (E.A_SOA) {
    const i = (Math.random() * EPS.length) | 0;
    http.request(METHODS[i], URLS[i], BODIES[i], PARAMS[i]);
    return;
  }
  if (E.A_RANDOM) SINK.t = Math.random();
  const ep = E.A_NOPICK ? FIRST : pick(COMPILED);
  if (E.A_BARE) {
    const res = http.request(ep.method, ep.url, ep.body, ep.params);
    if (E.A_STATUS) SINK.s += res.status;
    if (E.A_TIMINGS) SINK.d += res.timings.duration;
    if (E.A_DATENOW) SINK.t = Date.now();
    return;
  }
  call(COMPILED, ep, null, M);
}
"""
ABLATIONS: dict[str, tuple[str, ...]] = {
    "runner-nopick": ("A_NOPICK",),
    "runner-notail": ("A_NOTAIL",),
    "runner-nomeasure": ("A_NOMEASURE",),
    "runner-bare": ("A_BARE",),
    "runner-bare+status": ("A_BARE", "A_STATUS"),
    "runner-bare+timings": ("A_BARE", "A_TIMINGS"),
    "runner-bare+both": ("A_BARE", "A_STATUS", "A_TIMINGS"),
    "runner-bare+datenow": ("A_BARE", "A_DATENOW"),
    "runner-bare-nopick": ("A_BARE", "A_NOPICK"),
    "runner-bare+shared-params": ("A_BARE", "A_SHARED_PARAMS"),
    "runner-bare+shared-both": ("A_BARE", "A_SHARED_PARAMS", "A_SHARED_URL"),
    "runner-bare-nopick+random": ("A_BARE", "A_NOPICK", "A_RANDOM"),
    "runner-soa": ("A_SOA",),
    "runner-soa+shared-params": ("A_SOA", "A_SHARED_PARAMS"),
}

PROBES: dict[str, tuple[str, ...]] = {
    "minimal-nocheck": ("P_NO_CHECK",),
    "minimal+tags": ("P_TAGS",),
    "minimal+global-th": ("P_GLOBAL_TH",),
    "minimal+sub-th": ("P_TAGS", "P_SUB_TH"),
    "minimal+callback": ("P_CALLBACK",),
    "minimal+body_path": ("P_BODY_PATH",),
    "minimal+json_parse": ("P_BODY_PARSE",),
    "minimal+2nd-check": ("P_TWO_CHECKS",),
    "minimal+redirects0": ("P_REDIRECTS0",),
    "minimal+request": ("P_REQUEST",),
    "minimal+request+r0": ("P_REQUEST", "P_REDIRECTS0"),
    "minimal-luna-opts": ("P_TAGS", "P_GLOBAL_TH", "P_SUB_TH", "P_CALLBACK", "P_TRENDSTATS"),
}

RUNNER_CHECKS: dict[str, dict[str, Any] | None] = {
    "runner": {"status": 200},
    "runner+body_path": {"status": 200, "body_path": "data"},
    "runner-nochecks": None,
    "runner+k6summary": {"status": 200},
    "runner+systags": {"status": 200},
    "runner+dashboard": {"status": 200},
    "runner+cli-tags": {"status": 200},
    "runner-nosystags": {"status": 200},
}
# k6's system tags that Luna's Grafana dashboards and outputs read (the others are dropped)
SYSTEM_TAGS = "status,method,name,group,check,error_code,scenario,expected_response"
ALL_VARIANTS = (
    "minimal",
    "runner",
    "wrk",
    "runner+body_path",
    "runner-nochecks",
    "runner+k6summary",
    "runner+systags",
    "runner+dashboard",
    "runner+cli-tags",
    "runner-nosystags",
    *ABLATIONS,
    "runner-ref",
    *PROBES,
)


def dashboard_env(export: Path, planned_s: float, period_ms: int | None = None) -> dict[str, str]:
    """k6's web dashboard as tasks/execution/k6.py turns it on (LUNA_K6_DASHBOARD=true); its
    period Luna's for a run planned to take `planned_s`, unless `period_ms` says otherwise."""
    sys.path.insert(0, str(ROOT))
    from tasks.execution.k6 import dashboard_period_ms

    return {
        "K6_WEB_DASHBOARD": "true",
        "K6_WEB_DASHBOARD_PORT": "-1",
        "K6_WEB_DASHBOARD_EXPORT": str(export),
        "K6_WEB_DASHBOARD_PERIOD": f"{period_ms or dashboard_period_ms(planned_s)}ms",
    }


def clean_env() -> dict[str, str]:
    """The environment minus anything that would change a k6 run (auth, K6_*, Luna settings)."""
    drop = ("AUTH_", "K6_", "LUNA_", "INFLUXDB_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    for k in ("BASE_URL", "VUS", "DURATION", "PROFILE", "LOAD_MODEL", "ENDPOINTS_FILE", "SMOKE_VUS", "SMOKE_DURATION"):
        keep.pop(k, None)
    return keep


def k6_rps(summary: Path) -> dict[str, Any]:
    data = json.loads(summary.read_text(encoding="utf-8"))
    m = data["metrics"]
    dur = m.get("http_req_duration", {}).get("values", {})
    return {
        "rps": m["http_reqs"]["values"]["rate"],
        "requests": m["http_reqs"]["values"]["count"],
        "failed_rate": m.get("http_req_failed", {}).get("values", {}).get("rate"),
        "checks_rate": m.get("checks", {}).get("values", {}).get("rate"),
        "p95_ms": dur.get("p(95)"),
        "test_s": data.get("state", {}).get("testRunDurationMs", 0) / 1000,
    }


def runner_rps(log: Path, catalog: Path) -> dict[str, Any]:
    """Calls and RPS from the runner's own measure lines (what Luna reads) and k6's clock."""
    from luna.catalog import parse_catalog
    from tasks.execution.measure import AGG_PREFIX, Measure, elapsed_seconds

    measure = Measure(parse_catalog(json.loads(catalog.read_text(encoding="utf-8")), source=str(catalog)))
    elapsed = None
    for line in log.read_text(encoding="utf-8").splitlines():
        if AGG_PREFIX in line[:80] and line.startswith("{"):
            msg = json.loads(line).get("msg", "")
            if msg.startswith(AGG_PREFIX):
                measure.add_line(msg.removeprefix(AGG_PREFIX))
        elif "running (" in line:
            clock = re.search(r"running \(([^)]+)\)", line)
            elapsed = elapsed_seconds(clock.group(1)) if clock else elapsed
    samples = measure.result()
    requests = samples.overall.requests
    return {
        "rps": requests / elapsed if elapsed else 0.0,
        "requests": requests,
        "failed_rate": samples.overall.failed / requests if requests else None,
        "test_s": elapsed,
        "measure_lines": samples.rows_read,
    }


def iterations(log: Path) -> dict[str, Any]:
    """Complete iterations and RPS from k6's last progress line (one call per iteration)."""
    last = re.findall(r"running \(([^)]+)\), \d+/\d+ VUs, (\d+) complete", log.read_text(encoding="utf-8"))
    if not last:
        raise RuntimeError(f"no k6 progress line in {log}")
    from tasks.execution.measure import elapsed_seconds

    elapsed = elapsed_seconds(last[-1][0])
    requests = int(last[-1][1])
    return {"rps": requests / elapsed if elapsed else 0.0, "requests": requests, "test_s": elapsed}


def run_k6(args: list[str], env: dict[str, str], log: Path, limit_s: float) -> float:
    """Runs k6 to its end; returns the CPU seconds (user + system) k6 used, from its own
    rusage (os.wait4), so that two k6 processes running at once are told apart."""
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [K6, "run", "--no-usage-report", "--address", "", "--no-color", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + limit_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"k6 ran past {limit_s:.0f} s; see {log}")
            time.sleep(0.05)
    proc.returncode = code = os.waitstatus_to_exitcode(status)  # reaped by wait4: Popen must not wait again
    if code not in (0, 99):
        raise RuntimeError(f"k6 exited {code}; see {log}:\n{log.read_text()[-2000:]}")
    return usage.ru_utime + usage.ru_stime


def variant_base(variant: str) -> tuple[str, int]:
    """'runner@20' -> ('runner', 20); other names have one endpoint."""
    base, _, count = variant.partition("@")
    return base, int(count) if count else 1


class Bench:
    def __init__(
        self, tmp: Path, url: str, vus: int, duration_s: int, endpoint_counts: list[int], ref_k6: Path | None
    ) -> None:
        self.tmp, self.url, self.vus, self.duration_s, self.ref_k6 = tmp, url, vus, duration_s, ref_k6
        self.base_url = url.rsplit("/api/", 1)[0]
        self.limit_s = duration_s + 60
        self.n = 0
        self.lock = threading.Lock()
        (tmp / "minimal.js").write_text(MINIMAL_JS, encoding="utf-8")
        (tmp / "probe.js").write_text(PROBE_JS, encoding="utf-8")
        (tmp / "ablation.js").write_text(ABLATION_JS.replace("{lib}", str(ROOT / "k6" / "lib")), encoding="utf-8")
        for name, checks in {**RUNNER_CHECKS, **dict.fromkeys([*ABLATIONS, "runner-ref"], {"status": 200})}.items():
            for n in endpoint_counts:
                eps: list[dict[str, Any]] = []
                for i in range(n):
                    ep: dict[str, Any] = {
                        "name": "ListUsers" if n == 1 else f"ListUsers{i:03d}",
                        "group": "users",
                        "type": "rest",
                        "method": "GET",
                        "path": "/api/users",
                    }
                    if checks is not None:
                        ep["checks"] = checks
                    eps.append(ep)
                catalog = {"service": "bench", "endpoints": eps}
                (tmp / f"{name}@{n}.endpoints.json").write_text(json.dumps(catalog), encoding="utf-8")

    def run(self, variant: str) -> dict[str, Any]:
        """One run of `variant`; `k6_cpu_s` is the CPU k6 itself used (None for wrk)."""
        with self.lock:
            self.n += 1
            n = self.n
        log = self.tmp / f"{n:02d}-{variant}.log"
        summary = self.tmp / f"{n:02d}-{variant}.summary.json"
        if variant == "wrk":
            return self.wrk(log)
        cpu: list[float] = []
        result = self._run_k6_variant(variant, log, summary, cpu)
        result["k6_cpu_s"] = round(cpu[0], 3) if cpu else None
        return result

    def _run_k6_variant(self, variant: str, log: Path, summary: Path, cpu: list[float]) -> dict[str, Any]:
        env = clean_env()
        if variant == "minimal" or variant in PROBES:
            env.update(
                {"URL": self.url, "VUS": str(self.vus), "DURATION": f"{self.duration_s}s", "SUMMARY_FILE": str(summary)}
            )
            env.update({flag: "1" for flag in PROBES.get(variant, ())})
            script = "minimal.js" if variant == "minimal" else "probe.js"
            cpu.append(run_k6([str(self.tmp / script)], env, log, self.limit_s))
        else:
            base, count = variant_base(variant)
            catalog = self.tmp / f"{base}@{count}.endpoints.json"
            env.update(
                {
                    "ENDPOINTS_FILE": str(catalog),
                    "BASE_URL": self.base_url,
                    "PROFILE": "smoke",
                    "SMOKE_VUS": str(self.vus),
                    "SMOKE_DURATION": f"{self.duration_s}s",
                }
            )
            if base == "runner+k6summary":  # k6's summary on: read its handleSummary-less export
                cpu.append(
                    run_k6(["--summary-export", str(summary), str(ROOT / "k6" / "main.js")], env, log, self.limit_s)
                )
                data = json.loads(summary.read_text(encoding="utf-8"))
                return {"rps": data["metrics"]["http_reqs"]["rate"], "requests": data["metrics"]["http_reqs"]["count"]}
            # As tasks/execution/k6.py runs it: no thresholds, no summary, JSON log lines.
            flags = ["--no-thresholds", "--no-summary", "--log-format", "json"]
            if base == "runner+systags":
                flags += ["--system-tags", SYSTEM_TAGS]
            if base == "runner+cli-tags":  # the test-wide tags tasks/execution/k6.py passes
                flags += ["--tag", "run_id=bench", "--tag", "profile=smoke", "--tag", "service=bench"]
            if base == "runner-nosystags":
                flags += ["--system-tags", ""]
            if base == "runner+dashboard":  # as tasks/execution/k6.py sets it with LUNA_K6_DASHBOARD=true
                env.update(dashboard_env(self.tmp / f"{variant}.html", self.duration_s + 30))
            if base in ABLATIONS:
                env.update({flag: "1" for flag in ABLATIONS[base]})
                cpu.append(run_k6([*flags, str(self.tmp / "ablation.js")], env, log, self.limit_s))
                return iterations(log)
            k6_dir = self.ref_k6 if base == "runner-ref" and self.ref_k6 else ROOT / "k6"
            cpu.append(run_k6([*flags, str(k6_dir / "main.js")], env, log, self.limit_s))
            # another tree's measure lines may be in another format: count its iterations
            return iterations(log) if base == "runner-ref" else runner_rps(log, catalog)
        return k6_rps(summary)

    def wrk(self, log: Path) -> dict[str, Any]:
        cmd = ["wrk", "-t2", f"-c{self.vus}", f"-d{self.duration_s}s", self.url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.limit_s)
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
        match = re.search(r"Requests/sec:\s*([\d.]+)", done.stdout)
        if done.returncode != 0 or not match:
            raise RuntimeError(f"wrk failed: {done.stdout[-500:]} {done.stderr[-500:]}")
        non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", done.stdout)
        return {"rps": float(match.group(1)), "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def run_pair(bench: Bench, variant: str) -> list[dict[str, Any]]:
    """`minimal` and `variant` at the same time, started together: both meet the same
    machine (neighbours, CPU frequency, nginx), which a run seconds later does not."""
    results: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def one(name: str) -> None:
        try:
            results[name] = bench.run(name)
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(name,)) for name in ("minimal", variant)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    pair = [results["minimal"], results[variant]]
    for name, result in zip(("minimal", variant), pair, strict=True):
        result["variant"] = name
    return pair


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    p.add_argument("--vus", type=int, default=20, help="k6 VUs and wrk connections (default 20)")
    p.add_argument("--rounds", "--repeats", dest="rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument(
        "--variants",
        default="minimal,minimal+tags,runner,wrk",
        help=f"comma-separated, run in this order each round; any of {', '.join(ALL_VARIANTS)}",
    )
    p.add_argument("--pause", type=float, default=1.0, help="seconds of idle between runs (default 1)")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=15.0,
        help="before each run, wait at most this long for other load < 0.25 cores (default 15; 0 = off)",
    )
    p.add_argument("--out-dir", type=Path, default=None, help="where the JSON goes (default bench/results)")
    p.add_argument("--endpoints", default="1", help="endpoint counts for the runner variants, e.g. 1,20,200")
    p.add_argument("--ref-k6-dir", type=Path, default=None, help="the k6/ folder variant runner-ref runs")
    p.add_argument(
        "--paired",
        action="store_true",
        help="run each variant at the same time as a minimal run of its own (two k6 at once, "
        "same nginx), and compare within each pair",
    )
    args = p.parse_args()
    counts = sorted({int(c) for c in args.endpoints.split(",") if c.strip()})
    asked = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in asked if v not in ALL_VARIANTS]
    if not counts or min(counts) < 1 or max(counts) > 500:
        p.error("--endpoints: counts from 1 to 500")
    variants = [
        f"{v}@{n}" if v.startswith("runner") else v for v in asked for n in (counts if v.startswith("runner") else [0])
    ]
    if unknown or not 1 <= args.rounds <= 20 or not 1 <= args.duration <= 300 or not 1 <= args.vus <= 500:
        p.error(f"bad options (unknown variants: {unknown}); rounds 1-20, duration 1-300, vus 1-500")
    if any(v.startswith("runner-ref") for v in variants) and not (
        args.ref_k6_dir and (args.ref_k6_dir / "main.js").is_file()
    ):
        p.error("runner-ref needs --ref-k6-dir with a main.js")
    if args.paired and ("minimal" not in variants or "wrk" in variants or len(variants) < 2):
        p.error("--paired needs minimal and at least one other k6 variant, and no wrk")
    if "wrk" in variants and not shutil.which("wrk"):
        p.error("wrk is not installed (apt-get install wrk)")
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"

    info = machine()
    runs: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-runner-"))
    tmp.chmod(0o755)  # nginx's worker runs as an unprivileged user and must read users.json
    nginx = None
    try:
        port = free_port()
        (tmp / "users.json").write_text(json.dumps(BODY, separators=(",", ":")), encoding="utf-8")
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port), encoding="utf-8")
        nginx = subprocess.Popen(
            [nginx_bin, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}/api/users"
        wait_http(url, 15, nginx)
        body_bytes = (tmp / "users.json").stat().st_size
        print(
            f"nginx on {url} ({body_bytes} B body); {args.rounds} rounds x {variants} x {args.duration}s x "
            f"{args.vus} VUs",
            flush=True,
        )
        bench = Bench(tmp, url, args.vus, args.duration, counts, args.ref_k6_dir)
        for rnd in range(1, args.rounds + 1):
            order = variants if rnd % 2 else list(reversed(variants))
            if args.paired:
                for variant in (v for v in order if v != "minimal"):
                    time.sleep(args.pause)
                    quiet = wait_quiet(args.quiet_wait, own_pids=[nginx.pid]) if args.quiet_wait > 0 else None
                    pair = run_pair(bench, variant)
                    for result in pair:
                        result.update({"round": rnd, "pair": f"{rnd}:{variant}", "foreign_cores_before": quiet})
                        result["req_per_gen_cpu_s"] = (
                            result["requests"] / result["k6_cpu_s"] if result.get("k6_cpu_s") else None
                        )
                    runs.extend(pair)
                    mine, ref = pair[1], pair[0]
                    ratio = mine["req_per_gen_cpu_s"] / ref["req_per_gen_cpu_s"]
                    print(
                        f"  round {rnd} {variant:<18} {mine['rps']:>8,.0f} req/s beside minimal's {ref['rps']:>8,.0f}; "
                        f"per k6 CPU-second {ratio:.3f} of minimal's",
                        flush=True,
                    )
                continue
            for variant in order:
                time.sleep(args.pause)
                quiet = wait_quiet(args.quiet_wait, own_pids=[nginx.pid]) if args.quiet_wait > 0 else None
                with CpuWatch([nginx.pid]) as cpu:
                    result = bench.run(variant)
                result.update({"round": rnd, "variant": variant, "foreign_cores_before": quiet, **cpu.as_dict()})
                # Requests per CPU-second of the load generator: what a request costs k6 itself,
                # much less sensitive than RPS to other work stealing the machine's 2 cores.
                gen_cpu_s = result.get("k6_cpu_s") or cpu.generator_cores * cpu.wall_s
                result["req_per_gen_cpu_s"] = result.get("requests", 0) / gen_cpu_s if gen_cpu_s else None
                runs.append(result)
                print(
                    f"  round {rnd} {variant:<18} {result['rps']:>10,.0f} req/s   k6/wrk {cpu.generator_cores:.2f} "
                    f"cores, nginx {cpu.server_cores:.2f}, others {cpu.foreign_cores:.2f}",
                    flush=True,
                )
    finally:
        stop(nginx, 10)
        shutil.rmtree(tmp, ignore_errors=True)

    med = {v: median([r["rps"] for r in runs if r["variant"] == v]) for v in variants}
    ceiling = med.get("wrk")
    base = med.get("minimal")
    eff_med = {
        v: median([r["req_per_gen_cpu_s"] for r in runs if r["variant"] == v and r.get("req_per_gen_cpu_s")])
        for v in variants
        if v != "wrk"
    }
    eff_base = eff_med.get("minimal")
    rows = []
    for v in variants:
        mine = [r for r in runs if r["variant"] == v]
        vals = [r["rps"] for r in mine]
        eff = median([r["req_per_gen_cpu_s"] for r in mine if r.get("req_per_gen_cpu_s")])
        rows.append(
            [
                v,
                med[v],
                min(vals),
                max(vals),
                (med[v] / base) if base and v != "wrk" else None,
                (med[v] / ceiling) if ceiling else None,
                median([r["generator_cores"] for r in mine if "generator_cores" in r]),
                median([r["foreign_cores"] for r in mine if "foreign_cores" in r]),
                eff,
                (eff / eff_base) if eff and eff_base else None,
            ]
        )
    print()
    print(
        table(
            [
                "variant",
                "median rps",
                "min",
                "max",
                "/ minimal",
                "/ wrk",
                "gen cores",
                "others cores",
                "req/gen-cpu-s",
                "/ minimal",
            ],
            rows,
        )
    )

    # Per-round ratios pair runs made seconds apart: less sensitive to slow background drift.
    def per_round(v: str, key: str) -> list[float]:
        out = []
        for n in range(1, args.rounds + 1):
            mine = [r for r in runs if r["round"] == n and r["variant"] == v and r.get(key)]
            if not mine:
                continue
            pair = mine[0].get("pair")  # --paired: the minimal that ran beside it
            ref = [
                r[key]
                for r in runs
                if r["round"] == n and r["variant"] == "minimal" and r.get(key) and r.get("pair") == pair
            ]
            if ref:
                out.append(mine[0][key] / ref[0])
        return out

    ratios = {
        v: {
            "rps_of_medians": (med[v] / base) if base else None,
            "per_cpu_of_medians": (eff_med[v] / eff_base) if eff_base and eff_med.get(v) else None,
            "per_cpu_median_of_rounds": median(per_round(v, "req_per_gen_cpu_s"))
            if per_round(v, "req_per_gen_cpu_s")
            else None,
        }
        for v in variants
        if v.startswith("runner") and "minimal" in variants
    }
    for v, r in ratios.items():
        per_cpu = r["per_cpu_median_of_rounds"]
        print(
            f"{v}/minimal: requests per k6 CPU-second {per_cpu:.3f} (median of per-round ratios; goal >= 0.90: "
            f"{'OK' if per_cpu and per_cpu >= 0.9 else 'BELOW GOAL'}), RPS {r['rps_of_medians']:.3f}"
            if per_cpu is not None and r["rps_of_medians"] is not None
            else f"{v}: no ratio"
        )
    path = write_results(
        "runner_efficiency",
        {
            "machine": info,
            "loadavg_at_end": loadavg(),
            "options": {
                "duration_s": args.duration,
                "vus": args.vus,
                "rounds": args.rounds,
                "variants": variants,
                "paired": args.paired,
            },
            "body_bytes": body_bytes,
            "median_rps": med,
            "endpoint_counts": counts,
            "runner_over_minimal": ratios,
            "median_req_per_gen_cpu_s": eff_med,
            "median_foreign_cores": {
                v: median([r["foreign_cores"] for r in runs if r["variant"] == v and "foreign_cores" in r])
                for v in variants
            },
            "fraction_of_wrk": {v: (med[v] / ceiling) for v in variants if ceiling and v != "wrk"},
            "runs": runs,
        },
        args.out_dir,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
