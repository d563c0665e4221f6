// Redirects, followed by Luna rather than by k6. Every request goes out with
// `redirects: 0`; a 3xx answer is followed here, one hop at a time, so that:
// - one endpoint call is one logical request, judged on its final response, with the
//   time of every hop added up (hops are reported, never counted as calls or errors);
// - only hops to the origin the user named (BASE_URL) are followed, with the same
//   headers (credentials included); a redirect to another origin is not followed: its
//   3xx is the final answer and the result says so (Luna contacts only the named origin);
// - each hop carries `Referer: <the URL that redirected>`, so a server's access log can
//   tell hops from calls (a call never carries a Referer unless the endpoint sets one).
// At most MAX_HOPS hops per call (k6's own default is 10): past that the last 3xx is final.

import http from 'k6/http';
import { originOf, resolveLocation } from './origin.js';

export const MAX_HOPS = 10;

export function isRedirect(res) {
  return res.status >= 300 && res.status < 400 && location(res) !== null;
}

function location(res) {
  const h = res.headers || {};
  const v = h.Location || h.location;
  return v === undefined || v === null || v === '' ? null : v;
}

// `res` answered `method url` (sent with `params`, `redirects: 0`). Hops go out with
// params' headers plus a Referer, and `hopTags` (null: none). Returns the call's final response, how
// many hops were followed, the call's total duration (ms) and, when the chain stopped at
// a redirect Luna does not follow, the origin it pointed to (`offsite`).
export function follow(res, method, url, body, params, hopTags, named) {
  let current = res;
  let m = method;
  let b = body;
  let from = url;
  let hops = 0;
  let duration = res.timings.duration;
  let offsite = null;
  while (isRedirect(current) && hops < MAX_HOPS) {
    const next = resolveLocation(from, location(current));
    const origin = next === null ? null : originOf(next);
    if (origin !== named) {
      offsite = origin || 'an unreadable Location';
      break;
    }
    const status = current.status;
    if (status === 303 || ((status === 301 || status === 302) && m !== 'GET' && m !== 'HEAD')) {
      m = status === 303 && m === 'HEAD' ? 'HEAD' : 'GET';
      b = null;
    }
    const headers = Object.assign({}, params.headers, { Referer: from });
    if (b === null) dropBodyHeaders(headers);
    const hop = Object.assign({}, params, { headers: headers });
    if (hopTags !== null) hop.tags = hopTags;
    current = http.request(m, next, b, hop);
    duration += current.timings.duration;
    from = next;
    hops += 1;
  }
  return { res: current, hops: hops, duration: duration, offsite: offsite };
}

function dropBodyHeaders(headers) {
  for (const k of Object.keys(headers)) {
    if (k.toLowerCase() === 'content-type' || k.toLowerCase() === 'content-length') delete headers[k];
  }
}
