// The endpoints file, compiled for the hot path: weighted selection, request builders,
// checks, data rows and failure sampling. Loaded once per VU in the init context.

import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { compileChecks, failedChecks } from './checks.js';
import { compilePath, compileJson, compileHeaders } from './template.js';
import { mask } from './auth.js';
import { apdexSatisfied, apdexTolerating } from './metrics.js';

const BODY_EXCERPT = 300;

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

function compileEndpoint(ep, baseUrl, slos) {
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
    rows: dataRows(ep),
    checks: compileChecks(ep),
    hasChecks: Object.keys(ep.checks || {}).some((k) => ep.checks[k] !== null && ep.checks[k] !== undefined),
    tags: { name: ep.name, group: ep.group },
    failuresLeft: FAILURES_PER_ENDPOINT,
    responseCallback: statuses ? http.expectedStatuses(...statuses) : undefined,
    statuses: statuses,
    apdexT: Number((ep.slos && ep.slos.apdex_t_ms) || slos.apdex_t_ms || 500),
  };
}

export function compileCatalog(catalog, baseUrl) {
  const slos = catalog.slos || {};
  const endpoints = catalog.endpoints.map((ep) => compileEndpoint(ep, baseUrl.replace(/\/+$/, ''), slos));
  const cumulative = [];
  let total = 0;
  for (const ep of catalog.endpoints) {
    total += ep.weight === undefined || ep.weight === null ? 1 : Number(ep.weight);
    cumulative.push(total);
  }
  return { endpoints: endpoints, cumulative: cumulative, total: total, baseUrl: baseUrl };
}

export function pick(compiled) {
  const r = Math.random() * compiled.total;
  const cum = compiled.cumulative;
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r < cum[mid]) hi = mid;
    else lo = mid + 1;
  }
  return compiled.endpoints[lo];
}

// Each VU reports at most this many failing requests per endpoint (Luna keeps a bounded
// total); a broken endpoint cannot hide another one's failures.
const FAILURES_PER_ENDPOINT = parseInt(__ENV.LUNA_FAILURES_PER_VU || '3', 10);

function sampleFailure(ep, res, failed, url, method) {
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
    duration_ms: Math.round(res.timings.duration * 1000) / 1000,
    body_excerpt: mask(body),
    vu: exec.vu.idInTest,
    iteration: exec.vu.iterationInScenario,
  };
  console.warn(`LUNA_FAILURE ${JSON.stringify(record)}`);
}

export function call(compiled, ep, authHeaders) {
  let url = ep.url;
  let body = ep.body;
  let headers = ep.headers;
  if (ep.rows !== null || ep.pathT !== null || ep.bodyT !== null || ep.headersT !== null) {
    const row = ep.rows === null ? null : ep.rows[exec.scenario.iterationInTest % ep.rows.length];
    if (ep.pathT !== null) url = compiled.baseUrl.replace(/\/+$/, '') + ep.pathT(row);
    if (ep.bodyT !== null) body = ep.bodyT(row);
    if (ep.headersT !== null) headers = ep.headersT(row);
  }
  let merged = headers;
  if (authHeaders) {
    // Static auth headers are one object for the whole test: merge once per endpoint.
    if (headers === ep.headers && ep.authRef === authHeaders) merged = ep.merged;
    else {
      merged = Object.assign({}, headers, authHeaders);
      if (headers === ep.headers) {
        ep.authRef = authHeaders;
        ep.merged = merged;
      }
    }
  }
  const params = { headers: merged, tags: ep.tags };
  if (ep.responseCallback) params.responseCallback = ep.responseCallback;
  const res = http.request(ep.method, url, body, params);
  const ok = ep.hasChecks ? check(res, ep.checks, ep.tags) : true;
  const failed = res.status === 0 || (ep.statuses === null ? res.status >= 400 : ep.statuses.indexOf(res.status) < 0);
  if (!failed) {
    const d = res.timings.duration;
    if (d <= ep.apdexT) apdexSatisfied.add(1, ep.tags);
    else if (d <= 4 * ep.apdexT) apdexTolerating.add(1, ep.tags);
  }
  if (ep.failuresLeft > 0 && (!ok || failed)) {
    sampleFailure(ep, res, ok ? [] : failedChecks(ep.checks, res), url, ep.method);
  }
  return res;
}
