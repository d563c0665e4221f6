// End-of-test text for the terminal. The full data goes to LUNA_SUMMARY_FILE as JSON;
// Luna's summary.json is derived from it in Python.

function pad(text, width) {
  const s = String(text);
  return s.length >= width ? s.slice(0, width) : s + ' '.repeat(width - s.length);
}

function fmt(v) {
  return v === undefined || v === null ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(2);
}

export function textSummary(data, names) {
  const m = data.metrics;
  const lines = ['', '  endpoint                          reqs      rps    p50ms    p95ms    p99ms   failed'];
  for (const name of names) {
    const reqs = m[`http_reqs{name:${name}}`];
    const dur = m[`http_req_duration{name:${name}}`];
    const fail = m[`http_req_failed{name:${name}}`];
    if (!reqs) continue;
    lines.push(`  ${pad(name, 30)} ${pad(reqs.values.count, 8)} ${pad(fmt(reqs.values.rate), 8)} ${pad(fmt(dur && dur.values.med), 8)} ${pad(fmt(dur && dur.values['p(95)']), 8)} ${pad(fmt(dur && dur.values['p(99)']), 8)} ${fail ? (fail.values.rate * 100).toFixed(2) + '%' : '-'}`);
  }
  const crossed = [];
  for (const key of Object.keys(m)) {
    const th = m[key].thresholds || {};
    for (const expr of Object.keys(th)) if (!th[expr].ok) crossed.push(`${key}: ${expr}`);
  }
  lines.push('');
  lines.push(crossed.length ? `  thresholds crossed: ${crossed.join('; ')}` : '  all thresholds held');
  lines.push('');
  return lines.join('\n');
}
