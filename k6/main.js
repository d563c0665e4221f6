// Luna's generic k6 runner: one script for every service, driven by an endpoints file.
//
//   k6 run -e ENDPOINTS_FILE=k6/config/endpoints.json -e BASE_URL=http://127.0.0.1:8787 \
//          -e PROFILE=smoke k6/main.js
//
// Order: options -> custom metrics -> setup() -> exec function -> handleSummary().
// Config comes from __ENV (see .env.example); helpers live in k6/lib/; no remote imports.

import { buildScenario } from './lib/profiles.js';
import { authSetup, authHeaders, authMode, mask } from './lib/auth.js';
import { loadCatalog, compileCatalog, pick, call } from './lib/endpoints.js';
import { textSummary } from './lib/summary.js';

const env = __ENV;
const USES_AUTH = authMode() !== 'none';
const PROFILE = env.PROFILE || 'smoke';
const MODEL = env.LOAD_MODEL || 'closed';
const BASE_URL = env.BASE_URL || 'http://127.0.0.1:8787';
const CATALOG = loadCatalog(env.ENDPOINTS_FILE || './config/endpoints.json');
const SLOS = Object.assign({ p95_ms: 500, error_rate: 0.01, apdex_t_ms: 500 }, CATALOG.slos || {});

// ---- options ---------------------------------------------------------------------
// Judged on Luna's per-call metrics (lib/metrics.js): a call is one logical request
// however many redirect hops it took; k6's http_req_* metrics see every hop.
function thresholds() {
  const t = {
    luna_call_duration: [`p(95)<${SLOS.p95_ms}`],
    luna_call_failed: [`rate<=${SLOS.error_rate}`],
  };
  for (const ep of CATALOG.endpoints) {
    const slo = Object.assign({}, SLOS, ep.slos || {});
    t[`luna_call_duration{name:${ep.name}}`] = [`p(95)<${slo.p95_ms}`];
    t[`luna_call_failed{name:${ep.name}}`] = [`rate<=${slo.error_rate}`];
    // Not a gate: it registers the per-endpoint submetric so the summary holds its value.
    t[`checks{name:${ep.name}}`] = ['rate>=0'];
  }
  return t;
}

export const options = {
  scenarios: { [PROFILE]: Object.assign({ exec: 'run' }, buildScenario(PROFILE, MODEL)) },
  thresholds: thresholds(),
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'],
  setupTimeout: '60s',
  // Test-wide tags (run_id, service, profile) come from `--tag`: k6 lets the command line
  // replace options.tags, and drops a `service` set here.
};

// ---- custom metrics: luna_call_duration, luna_call_failed and per-endpoint counters,
// see lib/metrics.js

const COMPILED = compileCatalog(CATALOG, BASE_URL);

// ---- setup -------------------------------------------------------------------------
// Setup data is written into k6's summary JSON, so it never holds a secret: authSetup()
// only checks the Keycloak exchange; each VU fetches its own token (lib/auth.js).
export function setup() {
  authSetup();
  return { authMode: authMode() };
}

// ---- exec function -----------------------------------------------------------------
export function run() {
  const ep = pick(COMPILED);
  call(COMPILED, ep, USES_AUTH ? authHeaders() : null);
}

// ---- summary -----------------------------------------------------------------------
export function handleSummary(data) {
  const out = { stdout: textSummary(data, CATALOG.endpoints.map((e) => e.name)) };
  // Masked before it lands (Python masks the file again with every derived form).
  delete data.setup_data;
  if (env.LUNA_SUMMARY_FILE) out[env.LUNA_SUMMARY_FILE] = mask(JSON.stringify(data, null, 1));
  return out;
}
