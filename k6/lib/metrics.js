// Custom metrics: Luna's per-call measure. One endpoint call is one logical request,
// however many redirect hops it took (lib/redirects.js), so the per-endpoint figures come
// from these, not from k6's http_req_* metrics (which see every hop):
// - luna_call_duration (Trend, ms): the call's time, every hop added up; tag `name`;
// - luna_call_failed (Rate): 1 when the final response failed (network error, or a status
//   outside checks.status, or >= 400 without it); tag `name`;
// - apdex_satisfied_<i> / apdex_tolerating_<i> (Counters): successful calls within T and
//   within 4 T of endpoint i (its index in the endpoints file); failed calls are frustrated;
// - luna_redirects_<i> (Counter): redirect hops followed for endpoint i's calls;
// - luna_offsite_<i> (Counter): calls of endpoint i whose final answer is a redirect to
//   another origin, which Luna does not follow.
// Counters per endpoint index are cheap: an untagged add() costs far less than one carrying
// a `name` tag, and a Counter keeps no samples (a Trend keeps every one).

import { Counter, Rate, Trend } from 'k6/metrics';

export const callDuration = new Trend('luna_call_duration', true);
export const callFailed = new Rate('luna_call_failed');

export function apdexCounter(kind, index) {
  return new Counter(`${kind}_${index}`);
}

export function endpointCounter(kind, index) {
  return new Counter(`${kind}_${index}`);
}
