// Luna's per-call measure: each VU keeps its calls, raw, and sends them to Luna as log lines.
//
// k6 v1 keeps every sample of every Trend in memory as soon as thresholds or its end-of-test
// summary are on (its metrics engine stores each value for percentiles; grafana/k6#763), and
// matching every sample against per-endpoint submetrics costs k6 CPU per endpoint. Luna runs
// k6 with neither (tasks/execution/k6.py) and measures here instead.
//
// Per call a VU writes two numbers into preallocated typed arrays: the call's duration (ms,
// float64, exactly as k6 timed it) and one 32-bit word (the layout below). That is all the
// JavaScript a call costs: aggregating in the VU (tallies and an HDR Map per endpoint) cost
// 8 µs a call at 1 endpoint and 17 µs at 200 in k6's JS engine, against 1.5-2 µs for this
// (bench/k6_hotpath.js, docs/PERFORMANCE.md). Luna adds the calls up into exact counts and HDR
// histograms as they arrive (tasks/execution/measure.py), so memory stays flat on both sides.
//
// A VU sends what it holds as one line `LUNA_AGG <n> <durations> <words>[ <check labels>]`
// (console, stderr; both arrays base64 of their little-endian bytes, encoded by k6's Go code;
// the check labels of every endpoint, JSON, in a VU's first line only) every second, when
// its arrays are full, and after every call when it may be stopped soon (near the end of
// the scenario, in a ramp-down, or in an arrival-rate scenario where a VU can idle until the
// end): nothing measured is left unsent when k6 stops a VU.

import exec from 'k6/execution';
import encoding from 'k6/encoding';

// The word of a call: bits 0-15 endpoint index, 16 failed, 17-18 Apdex zone (2 satisfied,
// 1 tolerating, 0 frustrated), 19 redirect to another origin not followed, 20-23 redirect
// hops (lib/redirects.js MAX_HOPS, 10), 24-30 check j passed (bit 24 + j; lib/checks.js has 7).
export const FAILED = 1 << 16;
export const ZONE_SHIFT = 17;
export const OFFSITE = 1 << 19;
export const HOPS_SHIFT = 20;
export const CHECKS_SHIFT = 24;
export const MAX_ENDPOINTS = 1 << 16;
export const MAX_CHECKS = 7;

const FLUSH_MS = 1000;
const CAP = 4096; // calls a VU holds before it sends them (48 KB of arrays per VU)

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
    if (endpoints.length > MAX_ENDPOINTS) throw new Error(`at most ${MAX_ENDPOINTS} endpoints per endpoints file, not ${endpoints.length}`);
    this.labels = endpoints.map((ep) => ep.checkLabels);
    this.dur = new Float64Array(CAP);
    this.word = new Uint32Array(CAP);
    this.n = 0;
    this.labelsSent = false;
    this.scenario = scenario;
    this.policy = null; // built at the first call: the scenario's start time is known then
    this.lastFlush = 0;
    this.due = 0; // the next time (ms since the epoch) add() looks at the flush policy
  }

  // One call: its duration (ms) and its word (the layout above). Runs once per request:
  // written for k6's JS engine, where every operation and function call counts.
  add(durationMs, word) {
    const k = this.n;
    this.dur[k] = durationMs;
    this.word[k] = word;
    this.n = k + 1;
    const now = Date.now();
    if (now >= this.due || k + 1 === CAP) this.maybeFlush(now);
  }

  // Flushes when due (or full); sets when add() looks again: at every call inside a stop
  // window (and for executors that may stop a VU at any time), else at the next due time or
  // window.
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
    if (now - this.lastFlush >= FLUSH_MS || this.n === CAP) this.flush(now);
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
    const n = this.n;
    if (n === 0) return;
    const durations = encoding.b64encode(this.dur.buffer.slice(0, n * 8));
    const words = encoding.b64encode(this.word.buffer.slice(0, n * 4));
    this.n = 0;
    if (this.labelsSent) {
      console.log(`LUNA_AGG ${n} ${durations} ${words}`);
      return;
    }
    this.labelsSent = true;
    console.log(`LUNA_AGG ${n} ${durations} ${words} ${JSON.stringify(this.labels)}`);
  }
}
