// The endpoints file, compiled for the hot path: weighted selection, request builders,
// checks, data rows and failure sampling. Loaded once per VU in the init context.

import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { compileChecks } from './checks.js';
import { compilePath, compileJson, compileHeaders } from './template.js';
import { mask } from './auth.js';
import { originOf } from './origin.js';
import { follow, isRedirect } from './redirects.js';
import { FAILED, ZONE_SHIFT, OFFSITE, HOPS_SHIFT, CHECKS_SHIFT, MAX_CHECKS } from './measure.js';

const BODY_EXCERPT = 300;

// Whether k6's own samples leave k6 (InfluxDB for Grafana, a user's K6_OUT, a shard's CSV):
// only then do requests carry name/group tags and the endpoint's expected statuses, and
// checks feed k6's `checks` metric. Luna's verdict reads the measure (lib/measure.js), which
// counts every call and check itself; k6's web dashboard shows run-wide figures only.
const K6_SAMPLES = __ENV.LUNA_K6_SAMPLES === '1';

export function loadCatalog(path) {
  const catalog = JSON.parse(open(path));
  if (!catalog || !Array.isArray(catalog.endpoints) || catalog.endpoints.length === 0) {
    throw new Error(`endpoints file ${path} has no endpoints`);
  }
  return catalog;
}

function dataRows(ep) {
  if (!ep.data_file) return null;
  // Luna converts CSV to a JSON array of row objects before k6 starts (see luna/plan.py);
  // a .json data file is used as it is. Shared by all VUs, read once.
  const rows = new SharedArray(`data:${ep.name}`, () => JSON.parse(open(ep.data_file)));
  if (rows.length === 0) throw new Error(`data_file ${ep.data_file} of ${ep.name} has no rows`);
  return rows;
}

function compileEndpoint(ep, index, baseUrl, slos) {
  const apdexT = Number((ep.slos && ep.slos.apdex_t_ms) || slos.apdex_t_ms || 500);
  const isGraphql = ep.type === 'graphql';
  const method = (ep.method || (isGraphql ? 'POST' : 'GET')).toUpperCase();
  const headers = Object.assign({}, ep.headers || {});
  let payload = null;
  if (isGraphql) {
    payload = { query: ep.query, variables: ep.variables || {} };
  } else if (ep.body !== undefined && ep.body !== null) {
    payload = ep.body;
  }
  const hasContentType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  if (payload !== null && typeof payload !== 'string' && !hasContentType) headers['Content-Type'] = 'application/json';
  const statuses = ep.checks && ep.checks.status !== undefined && ep.checks.status !== null
    ? [].concat(ep.checks.status) : null;
  return {
    name: ep.name,
    group: ep.group,
    method: method,
    url: baseUrl + ep.path,
    pathT: compilePath(ep.path),
    body: payload === null ? null : typeof payload === 'string' ? payload : JSON.stringify(payload),
    bodyT: compileJson(payload),
    headers: headers,
    headersT: compileHeaders(headers),
    index: index,
    rows: dataRows(ep),
    checks: compileChecks(ep),
    hasChecks: Object.keys(ep.checks || {}).some((k) => ep.checks[k] !== null && ep.checks[k] !== undefined),
    tags: { name: ep.name, group: ep.group },
    hopTags: K6_SAMPLES ? { name: ep.name, group: ep.group, redirect: 'hop' } : null,
    checkTags: { name: ep.name },
    failuresLeft: FAILURES_PER_ENDPOINT,
    // k6's own http_req_failed sees each hop: a 3xx that Luna follows is no failure there.
    responseCallback: statuses && K6_SAMPLES ? http.expectedStatuses(...statuses, { min: 300, max: 399 }) : undefined,
    statuses: statuses,
    apdexT: apdexT,
    apdexT4: 4 * apdexT,
  };
}

export function compileCatalog(catalog, baseUrl) {
  const slos = catalog.slos || {};
  const base = baseUrl.replace(/\/+$/, '');
  const endpoints = catalog.endpoints.map((ep, i) => compileEndpoint(ep, i, base, slos));
  const origin = originOf(base);
  for (const ep of endpoints) {
    ep.checkFns = Object.values(ep.checks);
    ep.checkNames = Object.keys(ep.checks);
    ep.checkLabels = ep.checkNames.map((label) => label.slice(ep.name.length + 2)); // without "<name>: "
    if (ep.checkFns.length > MAX_CHECKS) throw new Error(`${ep.name}: at most ${MAX_CHECKS} checks per endpoint`);
    ep.allChecks = ((1 << ep.checkFns.length) - 1) << CHECKS_SHIFT; // the check bits of a call that passed them all
    ep.sameOrigin = originOf(ep.url) === origin;
    ep.dynamic = ep.rows !== null || ep.pathT !== null || ep.bodyT !== null || ep.headersT !== null;
  }
  const weights = catalog.endpoints.map((ep) => (ep.weight === undefined || ep.weight === null ? 1 : Number(ep.weight)));
  const table = aliasTable(weights);
  if (!K6_SAMPLES) http.setResponseCallback(expectedByAny(endpoints));
  const compiled = {
    endpoints: endpoints,
    n: endpoints.length,
    prob: table.prob,
    alias: table.alias, // column i's other endpoint (aliasTable)
    baseUrl: base,
    origin: origin,
    shared: new ParamsCache(),
  };
  for (const ep of endpoints) ep.fire = compileCall(compiled, ep);
  compiled.fire = endpoints.map((ep) => ep.fire);
  return compiled;
}

// Without per-request callbacks, k6's http_req_failed (its web dashboard's error rate)
// counts a response as expected when any endpoint expects its status: a 3xx, a 2xx if one
// endpoint has no status check, and every status an endpoint's check names.
function expectedByAny(endpoints) {
  const codes = new Set();
  let anyDefault = false;
  for (const ep of endpoints) {
    if (ep.statuses === null) anyDefault = true;
    else for (const code of ep.statuses) codes.add(code);
  }
  const ranges = anyDefault ? [{ min: 200, max: 399 }] : [{ min: 300, max: 399 }];
  return http.expectedStatuses(...ranges, ...Array.from(codes));
}

// Walker's alias table (Vose's construction) for weighted picking in O(1) per call, whatever
// the number of endpoints: column i holds endpoint i with probability prob[i], else alias[i].
// A binary search over cumulative weights cost ~7 us per call at 200 endpoints in k6's JS
// engine (bench/runner_efficiency.py), a tenth of a call's whole JS budget.
export function aliasTable(weights) {
  const n = weights.length;
  const total = weights.reduce((a, w) => a + w, 0);
  const scaled = weights.map((w) => (w * n) / total);
  const prob = new Array(n).fill(1);
  const alias = weights.map((_, i) => i);
  const small = [];
  const large = [];
  scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
  while (small.length > 0 && large.length > 0) {
    const s = small.pop();
    const l = large.pop();
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    (scaled[l] < 1 ? small : large).push(l);
  }
  // What is left has scaled weight 1 up to rounding: its column is its own (prob 1).
  return { prob: prob, alias: alias };
}

// The endpoint for the next call, by weight.
export function pick(compiled) {
  const u = Math.random() * compiled.n;
  const i = u | 0;
  return compiled.endpoints[u - i < compiled.prob[i] ? i : compiled.alias[i]];
}

// The next call, by weight: the endpoint's compiled call (compileCall), to be called with
// (authHeaders or null, measure). What main.js runs per iteration.
export function pickCall(compiled) {
  const u = Math.random() * compiled.n;
  const i = u | 0;
  return compiled.fire[u - i < compiled.prob[i] ? i : compiled.alias[i]];
}

// Each VU reports at most this many failing requests per endpoint (Luna keeps a bounded
// total); a broken endpoint cannot hide another one's failures.
const FAILURES_PER_ENDPOINT = parseInt(__ENV.LUNA_FAILURES_PER_VU || '3', 10);

function sampleFailure(ep, res, failed, url, method, call) {
  ep.failuresLeft -= 1;
  const body = typeof res.body === 'string' ? res.body.slice(0, BODY_EXCERPT) : '';
  const record = {
    endpoint: ep.name,
    group: ep.group,
    method: method,
    url: mask(url),
    status: res.status,
    error: res.error || null,
    error_code: res.error_code || null,
    failed_checks: failed,
    duration_ms: Math.round(call.duration * 1000) / 1000,
    redirects: call.hops,
    redirect_not_followed: call.offsite,
    body_excerpt: mask(body),
    vu: exec.vu.idInTest,
    iteration: exec.vu.iterationInScenario,
  };
  console.warn(`LUNA_FAILURE ${JSON.stringify(record)}`);
}

// Params for a request. Every key costs k6 a conversion on each request
// (bench/runner_efficiency.py: name/group tags ~8% of a call, a per-request responseCallback
// ~8%), so a key goes only where it is read: tags and the endpoint's own callback when k6's
// samples leave k6 (K6_SAMPLES), headers when there are any. `redirects: 0` always:
// lib/redirects.js follows hops, and only same-origin ones.
function paramsFor(ep, headers, authHeaders) {
  const all = authHeaders ? Object.assign({}, headers, authHeaders) : headers;
  const params = { redirects: 0 };
  if (Object.keys(all).length > 0) params.headers = all;
  if (K6_SAMPLES) {
    params.tags = ep.tags;
    if (ep.responseCallback) params.responseCallback = ep.responseCallback;
  }
  return params;
}

// One params object for every endpoint whose requests carry the same headers (and the same
// auth headers object): without per-endpoint tags they are the same value, and k6 reads a
// params object it has just read faster than one of 200 (bench/runner_efficiency.py
// runner-bare+shared-params: +2-5% at 200 endpoints in two runs). A new auth headers object
// (a token refreshed) starts a new set. Never mutated: redirects.js copies before it adds a
// Referer.
class ParamsCache {
  constructor() {
    this.auth = null;
    this.byKey = new Map();
  }

  get(ep, headers, authHeaders) {
    if (K6_SAMPLES) return paramsFor(ep, headers, authHeaders); // tags differ per endpoint
    if (authHeaders !== this.auth) {
      this.auth = authHeaders;
      this.byKey = new Map();
    }
    const key = JSON.stringify(headers);
    let params = this.byKey.get(key);
    if (params === undefined) {
      params = paramsFor(ep, headers, authHeaders);
      this.byKey.set(key, params);
    }
    return params;
  }
}

// Runs every check of the endpoint on the final response (its status read once), once;
// the passed ones as bits of the call's word (lib/measure.js: bit CHECKS_SHIFT + j).
function runChecks(ep, res, status) {
  const fns = ep.checkFns;
  let bits = 0;
  for (let j = 0; j < fns.length; j++) {
    let ok = false;
    try {
      ok = !!fns[j](res, status);
    } catch (e) {
      ok = false;
    }
    if (ok) bits |= 1 << (CHECKS_SHIFT + j);
  }
  if (K6_SAMPLES) {
    const values = {};
    for (let j = 0; j < fns.length; j++) values[ep.checkNames[j]] = (bits & (1 << (CHECKS_SHIFT + j))) !== 0;
    check(res, values, ep.checkTags);
  }
  return bits;
}

// One endpoint call (what a test of this module calls; main.js calls `pickCall`'s result).
export function call(compiled, ep, authHeaders, measure) {
  return ep.fire(authHeaders, measure);
}

// An endpoint's call, compiled once per VU: the hot path of every iteration. What it reads
// per call is in closure variables, which k6's JS engine reads from a slot, where a property
// of the endpoint object is a map lookup, slower the more endpoints there are (bench:
// runner-soa against runner-bare, +7-11% at 200 endpoints in two runs). A Response property
// is read once (each read crosses from JS into k6's Go object; status and timings together
// cost ~4-6% of a call), and nothing is allocated unless the call is redirected or fails.
function compileCall(compiled, ep) {
  const method = ep.method;
  const staticUrl = ep.url;
  const staticBody = ep.body;
  const staticHeaders = ep.headers;
  const dynamic = ep.dynamic;
  const sameOrigin = ep.sameOrigin;
  const origin = compiled.origin;
  const shared = compiled.shared;
  const index = ep.index;
  const apdexT = ep.apdexT;
  const apdexT4 = ep.apdexT4;
  const statuses = ep.statuses;
  const status1 = statuses !== null && statuses.length === 1 ? statuses[0] : -1; // one expected status
  const hasChecks = ep.hasChecks;
  const allChecks = ep.allChecks;
  // The endpoint's one check is its status (the usual case; a status check exists whenever
  // statuses do): its bit without a function call.
  const statusOnly = !K6_SAMPLES && status1 >= 0 && ep.checkFns.length === 1;
  let authRef = null;
  let params = shared.get(ep, staticHeaders, null);
  return function fire(authHeaders, measure) {
    let url = staticUrl;
    let body = staticBody;
    let headers = staticHeaders;
    if (dynamic) {
      const row = ep.rows === null ? null : ep.rows[exec.scenario.iterationInTest % ep.rows.length];
      if (ep.pathT !== null) url = compiled.baseUrl + ep.pathT(row);
      if (ep.bodyT !== null) body = ep.bodyT(row);
      if (ep.headersT !== null) headers = ep.headersT(row);
    }
    // Credentials only to the named origin (lib/origin.js); url is BASE_URL + a path.
    let auth = null;
    if (authHeaders !== null && (url === staticUrl ? sameOrigin : originOf(url) === origin)) auth = authHeaders;
    let p = params;
    if (headers !== staticHeaders) p = paramsFor(ep, headers, auth);
    else if (auth !== authRef) {
      authRef = auth;
      params = p = shared.get(ep, headers, auth);
    }
    let res = http.request(method, url, body, p);
    let status = res.status;
    let d;
    let chain = null;
    // One call, judged on its final response (lib/redirects.js follows same-origin hops).
    if (status >= 300 && status < 400 && isRedirect(res)) {
      chain = follow(res, method, url, body, p, ep.hopTags, origin);
      res = chain.res;
      status = res.status;
      d = chain.duration;
    } else {
      d = res.timings.duration;
    }
    // A call cut off by the end of the run (k6's graceful stop cancels it) is no call: k6
    // counts its iteration as interrupted, and so does Luna.
    if (status === 0 && typeof res.error === 'string' && res.error.indexOf('context canceled') >= 0) return res;
    const bits = statusOnly ? (status === status1 ? allChecks : 0) : hasChecks ? runChecks(ep, res, status) : 0;
    const ok = bits === allChecks;
    const failed = status === 0 || (status1 >= 0 ? status !== status1 : statuses === null ? status >= 400 : statuses.indexOf(status) < 0);
    const zone = failed ? 0 : d <= apdexT ? 2 : d <= apdexT4 ? 1 : 0;
    let word = index | bits | (zone << ZONE_SHIFT);
    if (failed) word |= FAILED;
    if (chain !== null) {
      word |= chain.hops << HOPS_SHIFT;
      if (chain.offsite !== null) word |= OFFSITE;
    }
    if ((failed || !ok) && ep.failuresLeft > 0) {
      const failedNames = ok ? [] : ep.checkNames.filter((_, j) => (bits & (1 << (CHECKS_SHIFT + j))) === 0);
      const c = chain === null ? { duration: d, hops: 0, offsite: null } : chain;
      sampleFailure(ep, res, failedNames, url, method, c);
    }
    measure.add(d, word);
    return res;
  };
}
