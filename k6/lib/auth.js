// The four auth modes of the seed README. Secrets come from __ENV only and never reach
// a log line: failure samples are masked with `mask()`.
//   Bearer:   AUTH_TOKEN
//   Basic:    AUTH_BASIC_USER + AUTH_BASIC_PASS
//   API key:  AUTH_API_KEY (+ AUTH_API_KEY_HEADER, default X-API-Key)
//   Keycloak: AUTH_HOST + AUTH_REALM + AUTH_CLIENT_ID + AUTH_CLIENT_SECRET
//             (client credentials: setup() makes one exchange to fail fast, then each VU
//             fetches its own token and refreshes it before expiry. No token is ever returned
//             from setup(): k6 writes setup data into its summary JSON.)

import http from 'k6/http';
import encoding from 'k6/encoding';
import exec from 'k6/execution';

const env = __ENV;

export function authMode() {
  if (env.AUTH_TOKEN) return 'bearer';
  if (env.AUTH_BASIC_USER) return 'basic';
  if (env.AUTH_API_KEY) return 'api_key';
  if (env.AUTH_HOST) return 'keycloak';
  return 'none';
}

const MODE = authMode();
// Every form a secret can take in output (the k6 half of luna/masking.py): as it is,
// URL-encoded, base64 (std and URL-safe, padded or not), and Basic's user:pass.
function b64Forms(text) {
  const std = encoding.b64encode(text, 'std');
  const url = encoding.b64encode(text, 'url');
  return [std, url, std.replace(/=+$/, ''), url.replace(/=+$/, '')];
}

function formsOf(secret) {
  const derived = [JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+')].concat(b64Forms(secret));
  return [secret].concat(derived.filter((f) => f.length >= 6));
}

function allSecretForms() {
  let out = [];
  for (const s of [env.AUTH_TOKEN, env.AUTH_BASIC_PASS, env.AUTH_API_KEY, env.AUTH_CLIENT_SECRET]) if (s) out = out.concat(formsOf(s));
  if (env.AUTH_BASIC_USER && env.AUTH_BASIC_PASS) {
    const pair = `${env.AUTH_BASIC_USER}:${env.AUTH_BASIC_PASS}`;
    out = out.concat([pair, encodeURIComponent(pair)], b64Forms(pair));
  }
  return Array.from(new Set(out)).sort((a, b) => b.length - a.length);
}

const SECRETS = allSecretForms();

function tokenUrl() {
  return `${env.AUTH_HOST.replace(/\/+$/, '')}/realms/${encodeURIComponent(env.AUTH_REALM)}/protocol/openid-connect/token`;
}

// Returns {token, expiresAt} or an error string.
function fetchToken() {
  let res;
  try {
    res = http.post(
      tokenUrl(),
      { grant_type: 'client_credentials', client_id: env.AUTH_CLIENT_ID, client_secret: env.AUTH_CLIENT_SECRET },
      { tags: { name: 'luna_auth_token', group: 'luna_auth' }, responseCallback: http.expectedStatuses(200) },
    );
  } catch (e) {
    return `token request failed: ${e}`;
  }
  if (res.status !== 200) {
    return `token endpoint ${tokenUrl()} answered HTTP ${res.status || 'no response'}${res.error ? ` (${res.error})` : ''}`;
  }
  let body;
  try {
    body = res.json();
  } catch (e) {
    return `token endpoint ${tokenUrl()} did not answer JSON`;
  }
  if (!body || !body.access_token) return `token endpoint ${tokenUrl()} answered without access_token`;
  const ttl = Number(body.expires_in) > 0 ? Number(body.expires_in) : 300;
  return { token: body.access_token, expiresAt: Date.now() + ttl * 1000, ttl: ttl };
}

// setup(): one exchange, so bad credentials abort the test with a clear reason before the
// load. Returns nothing: the token stays out of setup data (and so out of k6's summary).
export function authSetup() {
  if (MODE !== 'keycloak') return null;
  const got = fetchToken();
  if (typeof got === 'string') exec.test.abort(`auth: ${got}. Check AUTH_HOST, AUTH_REALM, AUTH_CLIENT_ID and AUTH_CLIENT_SECRET`);
  return null;
}

let staticHeaders = null;
let current = null; // this VU's Keycloak token
let nextRetry = 0;

export function authHeaders() {
  if (MODE === 'keycloak') {
    if (current === null) {
      const got = fetchToken();
      if (typeof got === 'string') exec.test.abort(`auth: ${got}`);
      current = got;
    }
    // Refresh a little before expiry: 30 s, or a fifth of a short lifetime.
    const margin = Math.min(30000, (current.ttl * 1000) / 5);
    const now = Date.now();
    if (now >= current.expiresAt - margin && now >= nextRetry) {
      const got = fetchToken();
      if (typeof got === 'string') {
        console.error(`LUNA_AUTH_REFRESH_FAILED ${got}`);
        nextRetry = now + 1000;
      } else {
        current = got;
      }
    }
    return { Authorization: `Bearer ${current.token}` };
  }
  if (staticHeaders === null) {
    staticHeaders = {};
    if (MODE === 'bearer') staticHeaders.Authorization = `Bearer ${env.AUTH_TOKEN}`;
    if (MODE === 'basic') staticHeaders.Authorization = `Basic ${encoding.b64encode(`${env.AUTH_BASIC_USER}:${env.AUTH_BASIC_PASS || ''}`)}`;
    if (MODE === 'api_key') staticHeaders[env.AUTH_API_KEY_HEADER || 'X-API-Key'] = env.AUTH_API_KEY;
  }
  return staticHeaders;
}

const SECRET_QUERY = /([?&](?:access_token|refresh_token|id_token|token|api_key|apikey|key|secret|password|client_secret)=)[^&#]*/gi;
const BEARER = /(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/g;
const TOKEN_JSON = /("(?:access_token|refresh_token|id_token|client_secret)"\s*:\s*")[^"]*(")/g;

// Remove every configured secret (and secret-looking query values) from a text.
export function mask(text) {
  if (typeof text !== 'string' || text.length === 0) return text;
  let out = text;
  for (const s of SECRETS) out = out.split(s).join('***');
  if (current && current.token) for (const f of formsOf(current.token)) out = out.split(f).join('***');
  return out.replace(SECRET_QUERY, '$1***').replace(BEARER, '$1***').replace(TOKEN_JSON, '$1***$2');
}
