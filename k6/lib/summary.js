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
  const seconds = ((data.state && data.state.testRunDurationMs) || 0) / 1000;
  const lines = ['', '  endpoint                          reqs      rps    p50ms    p95ms    p99ms   failed'];
  for (const name of names) {
    // Calls, not requests: a call's redirect hops are one call (lib/metrics.js).
    const dur = m[`luna_call_duration{name:${name}}`];
    const fail = m[`luna_call_failed{name:${name}}`];
    const count = fail ? fail.values.passes + fail.values.fails : 0;
    if (!count) continue;
    lines.push(`  ${pad(name, 30)} ${pad(count, 8)} ${pad(fmt(seconds ? count / seconds : null), 8)} ${pad(fmt(dur && dur.values.med), 8)} ${pad(fmt(dur && dur.values['p(95)']), 8)} ${pad(fmt(dur && dur.values['p(99)']), 8)} ${fail ? (fail.values.rate * 100).toFixed(2) + '%' : '-'}`);
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
