// Custom metrics. Apdex needs, per endpoint, how many responses were satisfied (<= T)
// and tolerating (<= 4T); failed requests count as frustrated. Two counters are exact and
// cheap (a Trend would keep every sample in memory).

import { Counter } from 'k6/metrics';

export const apdexSatisfied = new Counter('apdex_satisfied');
export const apdexTolerating = new Counter('apdex_tolerating');
