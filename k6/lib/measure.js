// Luna's per-call measure, aggregated in each VU and flushed to Luna as log lines.
//
// k6 v1 keeps every sample of every Trend in memory as soon as thresholds or its end-of-test
// summary are on (its metrics engine stores each value for percentiles; grafana/k6#763), and
// matching every sample against per-endpoint submetrics costs k6 CPU per endpoint. Luna runs
// k6 with neither (tasks/execution/k6.py) and measures here instead: per endpoint, exact
// counts (calls, failed, Apdex zones, redirect hops, off-site redirects, each check's passes
// and fails), exact sum/min/max of the call duration, and its HDR histogram: integer µs at
// 3 significant digits, the buckets of tasks/distributed/hdr.py, so Luna's percentiles are
// the ones an HdrHistogram of every raw duration gives.
//
// A VU sends what it gathered as one `LUNA_AGG {json}` line (console, stderr) every 1 to 5 s,
// and after every call when it may be stopped soon (near the end of the scenario, in
// a ramp-down, or in an arrival-rate scenario where a VU can idle until the end): nothing
// measured is left unsent when k6 stops a VU. Luna adds the lines up (tasks/execution/measure.py).

import exec from 'k6/execution';

// A VU flushes after 1 s when its rows hold 4 calls each on average, else after 5 s: between
// flushes a VU's calls of one endpoint share one row, and with 200 endpoints and a 1 s
// period most rows held one call (bench/runner_efficiency.py --endpoints 200).
const FLUSH_MS = 1000;
const SPARSE_FLUSH_MS = 5000;
const CALLS_PER_ROW = 4;
const MAX_US = 2147483647; // 35 min; k6's request timeout is far below it

// The lowest value of the HDR bucket holding `us` (sub-bucket count 2048: 3 digits).
export function bucketOf(us) {
  if (us < 2048) return us;
  const shift = 21 - Math.clz32(us); // floor(log2(us)) - 10
  return (us >> shift) << shift;
}

function emptyAcc(checkCount) {
  return {
    n: 0, failed: 0, sat: 0, tol: 0, hops: 0, offsite: 0,
    sum: 0, min: Infinity, max: -Infinity,
    pass: new Array(checkCount).fill(0), fail: new Array(checkCount).fill(0),
    hist: new Map(),
  };
}

// Zeroes an accumulator in place once its row is sent (no new objects per flush).
function resetAcc(a) {
  a.n = 0; a.failed = 0; a.sat = 0; a.tol = 0; a.hops = 0; a.offsite = 0;
  a.sum = 0; a.min = Infinity; a.max = -Infinity;
  a.pass.fill(0);
  a.fail.fill(0);
  a.hist.clear();
}

// How long before the scenario's end a constant-vus VU flushes after every call. k6 stops such
// a VU only between iterations, and only once the scenario's duration is over (k6 v1.1.0
// lib/executor/constant_vus.go: the VU loop tests the duration's context before each
// iteration; an iteration that started runs on through gracefulStop). exec.scenario.startTime
// is the very time that duration is counted from (getDurationContexts), so a call whose add()
// runs before `end - CONSTANT_TAIL_MS` is followed by another iteration, and its tallies by
// another add(), unless the rest of this iteration (return from call() and run(), k6's
// iteration bookkeeping: microseconds) takes longer than that margin. 250 ms covers a GC pause
// and dozens of CPU time slices on a busy 2-core machine; the per-call flush then covers ~4 %
// of a 6 s run instead of 25 % with 1.5 s (bench/runner_efficiency.py, docs/PERFORMANCE.md).
const CONSTANT_TAIL_MS = 250;
// ramping-vus stops VUs in the middle of the run (a stage that lowers the target, with
// gracefulRampDown), at times k6 picks per VU: those windows keep a wide margin.
const RAMP_TAIL_MS = 1500;

// Times (ms since the epoch) after which this VU may be stopped at any iteration end.
function stopWindows(scenario, startMs) {
  if (!scenario) return { always: true, windows: [] };
  const exe = scenario.executor;
  if (exe === 'constant-arrival-rate' || exe === 'ramping-arrival-rate' || exe === 'shared-iterations' || exe === 'per-vu-iterations') {
    return { always: true, windows: [] };
  }
  if (exe === 'constant-vus') {
    return { always: false, windows: [[startMs + seconds(scenario.duration) * 1000 - CONSTANT_TAIL_MS, Infinity]] };
  }
  const tailMs = RAMP_TAIL_MS;
  if (exe !== 'ramping-vus') return { always: true, windows: [] };
  // ramping-vus: VUs leave in every stage that lowers the target (and its gracefulRampDown).
  const grace = seconds(scenario.gracefulRampDown || '30s') * 1000;
  const windows = [];
  let t = startMs;
  let level = scenario.startVUs || 0;
  for (const stage of scenario.stages || []) {
    const end = t + seconds(stage.duration) * 1000;
    if (stage.target < level) windows.push([t - tailMs, end + grace + tailMs]);
    level = stage.target;
    t = end;
  }
  windows.push([t - tailMs, Infinity]);
  return { always: false, windows: windows };
}

// "1m30s", "500ms", "2h", "10s" -> seconds (k6 duration strings as Luna writes them).
export function seconds(text) {
  const s = String(text);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    const v = parseFloat(m[1]);
    total += m[2] === 'h' ? v * 3600 : m[2] === 'm' ? v * 60 : m[2] === 'ms' ? v / 1000 : v;
  }
  return total;
}

// How often, at most, a VU outside its stop windows looks whether a flush is due.
const CHECK_MS = 100;

export class Measure {
  constructor(endpoints, scenario) {
    this.checkCounts = endpoints.map((ep) => ep.checkLabels.length);
    this.labels = endpoints.map((ep) => ep.checkLabels);
    this.accs = endpoints.map((ep, i) => emptyAcc(this.checkCounts[i]));
    this.touched = [];
    this.scenario = scenario;
    this.policy = null; // built at the first call: the scenario's start time is known then
    this.lastFlush = 0;
    this.calls = 0; // since the last flush
    this.due = 0; // the next time (ms since the epoch) add() looks at the flush policy
  }

  // One call of endpoint `i`: its duration (ms), whether it failed, its Apdex zone
  // (2 satisfied, 1 tolerating, 0 frustrated), hops, off-site flag, each check's result.
  // Runs once per request: written for k6's JS engine, where every operation and function
  // call counts (bucketOf() inlined; the flush policy read only when `due`).
  add(i, durationMs, failed, zone, hops, offsite, checks) {
    const a = this.accs[i];
    if (a.n === 0) this.touched.push(i);
    a.n += 1;
    this.calls += 1;
    if (failed) a.failed += 1;
    if (zone === 2) a.sat += 1;
    else if (zone === 1) a.tol += 1;
    if (hops !== 0) a.hops += hops;
    if (offsite) a.offsite += 1;
    a.sum += durationMs;
    if (durationMs < a.min) a.min = durationMs;
    if (durationMs > a.max) a.max = durationMs;
    if (checks !== null) {
      for (let j = 0; j < checks.length; j++) {
        if (checks[j]) a.pass[j] += 1;
        else a.fail[j] += 1;
      }
    }
    // Integer µs, rounded half up (Math.round for positive values), within 1..MAX_US.
    let us = durationMs < 0.0015 ? 1 : durationMs >= MAX_US / 1000 ? MAX_US : (durationMs * 1000 + 0.5) | 0;
    if (us >= 2048) {
      const shift = 21 - Math.clz32(us);
      us = (us >> shift) << shift;
    }
    const hist = a.hist;
    const seen = hist.get(us);
    hist.set(us, seen === undefined ? 1 : seen + 1);
    const now = Date.now();
    if (now >= this.due) this.maybeFlush(now);
  }

  // Flushes when due; sets when add() looks again: at every call inside a stop window (and
  // for executors that may stop a VU at any time), else at the next due time or window.
  maybeFlush(now) {
    if (this.policy === null) {
      this.policy = stopWindows(this.scenario, exec.scenario.startTime);
      this.lastFlush = now;
    }
    if (this.policy.always || this.inWindow(now)) {
      this.flush(now);
      this.due = now;
      return;
    }
    const age = now - this.lastFlush;
    if (age >= SPARSE_FLUSH_MS || (age >= FLUSH_MS && this.calls >= CALLS_PER_ROW * this.touched.length)) this.flush(now);
    const next = now - this.lastFlush >= FLUSH_MS ? now + CHECK_MS : this.lastFlush + FLUSH_MS;
    this.due = Math.min(next, this.nextWindow(now));
  }

  inWindow(now) {
    const w = this.policy.windows;
    for (let k = 0; k < w.length; k++) if (now >= w[k][0] && now <= w[k][1]) return true;
    return false;
  }

  // The start of the next stop window after `now` (Infinity when none).
  nextWindow(now) {
    let next = Infinity;
    for (const [start] of this.policy.windows) if (start > now && start < next) next = start;
    return next;
  }

  flush(now) {
    this.lastFlush = now;
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
