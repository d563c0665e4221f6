// Custom metrics. Apdex needs, per endpoint, how many responses were satisfied (<= T)
// and tolerating (<= 4 T); failed requests count as frustrated. Counters are exact and
// cheap (a Trend would keep every sample in memory). Each endpoint gets its own pair,
// `apdex_satisfied_<i>` / `apdex_tolerating_<i>` (i = its index in the endpoints file):
// an untagged add() costs far less per request than one carrying a `name` tag.

import { Counter } from 'k6/metrics';

export function apdexCounter(kind, index) {
  return new Counter(`${kind}_${index}`);
}
