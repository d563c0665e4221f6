// The seven check types of the endpoints file, compiled once per endpoint into an object
// of label -> function(res, status) (the caller has read the status once already). Labels
// carry the endpoint name, so k6's own `checks` samples (InfluxDB) and failure samples say
// which endpoint failed which check; Luna's measure counts each check by its label (lib/measure.js).

function jsonPath(res, path) {
  try {
    const v = res.json(path);
    return v !== undefined && v !== null;
  } catch (e) {
    return false;
  }
}

function graphqlBody(res) {
  try {
    return res.json();
  } catch (e) {
    return null;
  }
}

export function compileChecks(ep) {
  const c = ep.checks || {};
  const out = {};
  const p = `${ep.name}: `;
  if (c.status !== undefined && c.status !== null) {
    const codes = Array.isArray(c.status) ? c.status : [c.status];
    out[`${p}status is ${codes.join('|')}`] = codes.length === 1 ? (r, s) => s === codes[0] : (r, s) => codes.indexOf(s) >= 0;
  }
  if (c.body_path) out[`${p}body has ${c.body_path}`] = (r) => jsonPath(r, c.body_path);
  if (c.header_present) {
    const h = c.header_present.toLowerCase();
    out[`${p}header ${c.header_present} present`] = (r) => Object.keys(r.headers).some((k) => k.toLowerCase() === h);
  }
  if (c.max_duration_ms) out[`${p}duration <= ${c.max_duration_ms}ms`] = (r) => r.timings.duration <= c.max_duration_ms;
  if (c.body_contains) out[`${p}body contains ${c.body_contains}`] = (r) => typeof r.body === 'string' && r.body.indexOf(c.body_contains) >= 0;
  if (c.no_graphql_errors) {
    out[`${p}no graphql errors`] = (r) => {
      const b = graphqlBody(r);
      return b !== null && (b.errors === undefined || b.errors === null || b.errors.length === 0);
    };
  }
  if (c.has_data) {
    out[`${p}graphql data`] = (r) => {
      const b = graphqlBody(r);
      return b !== null && b.data !== undefined && b.data !== null;
    };
  }
  return out;
}
