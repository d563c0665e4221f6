// Luna's generic k6 runner: one script for every service, driven by an endpoints file.
//
//   k6 run -e ENDPOINTS_FILE=k6/config/endpoints.json -e BASE_URL=http://127.0.0.1:8787 \
//          -e PROFILE=smoke k6/main.js
//
// Order: options -> measure (custom metrics' place) -> setup() -> exec function. There is no
// handleSummary(): k6's end-of-test summary is off, each VU sends Luna its measure.
// Config comes from __ENV (see .env.example); helpers live in k6/lib/; no remote imports.

import { buildScenario } from './lib/profiles.js';
import { authSetup, authHeaders, authMode } from './lib/auth.js';
import { loadCatalog, compileCatalog, pickCall } from './lib/endpoints.js';
import { Measure } from './lib/measure.js';

const env = __ENV;
const USES_AUTH = authMode() !== 'none';
const PROFILE = env.PROFILE || 'smoke';
const MODEL = env.LOAD_MODEL || 'closed';
const BASE_URL = env.BASE_URL || 'http://127.0.0.1:8787';
const CATALOG = loadCatalog(env.ENDPOINTS_FILE || './config/endpoints.json');

// ---- options ---------------------------------------------------------------------
export const options = {
  scenarios: { [PROFILE]: Object.assign({ exec: 'run' }, buildScenario(PROFILE, MODEL)) },
  // No thresholds: Luna runs k6 without thresholds or its end-of-test summary (either makes
  // k6 keep every Trend sample in memory) and judges the SLOs on its own measure.
  setupTimeout: '60s',
  // Test-wide tags (run_id, service, profile) come from `--tag`: k6 lets the command line
  // replace options.tags, and drops a `service` set here.
};

// ---- measure: per-VU exact tallies and HDR histograms, flushed to Luna (lib/measure.js)

const COMPILED = compileCatalog(CATALOG, BASE_URL);
const MEASURE = new Measure(COMPILED.endpoints, options.scenarios[PROFILE]);

// ---- setup -------------------------------------------------------------------------
// Setup data is written into k6's summary JSON, so it never holds a secret: authSetup()
// only checks the Keycloak exchange; each VU fetches its own token (lib/auth.js).
export function setup() {
  authSetup();
  return { authMode: authMode() };
}

// ---- exec function -----------------------------------------------------------------
export function run() {
  pickCall(COMPILED)(USES_AUTH ? authHeaders() : null, MEASURE);
}
