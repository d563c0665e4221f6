// Credentials attach only to the origin the user named (BASE_URL, already checked by
// Luna's one URL model, luna/urls.py). k6 follows redirects itself and Go copies
// Authorization to another port of the same host, and every custom header (an API key)
// anywhere, so a request that carries credentials is sent with `redirects: 0` and its
// hops are followed here: only same-origin hops, with credentials; a hop to another
// origin is not followed (its 3xx is the final answer).

import http from 'k6/http';

const MAX_HOPS = 10;
const DEFAULT_PORTS = { http: '80', https: '443' };

// "scheme://host:port" of an absolute http(s) URL, or null for anything doubtful.
export function originOf(url) {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(String(url));
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  const authority = m[2];
  if (!(scheme in DEFAULT_PORTS) || /[@\\\s]/.test(authority) || authority === '') return null;
  const hp = /^(\[[0-9a-fA-F:.]+\]|[^:]+)(?::(\d*))?$/.exec(authority);
  if (!hp) return null;
  const port = hp[2] ? String(parseInt(hp[2], 10)) : DEFAULT_PORTS[scheme];
  return `${scheme}://${hp[1].toLowerCase()}:${port}`;
}

// A Location header resolved against the URL that answered it.
export function resolveLocation(base, location) {
  const loc = String(location).trim();
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(loc)) return loc;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:)\/\/([^/?#]*)([^?#]*)/.exec(base);
  if (!m) return null;
  if (loc.startsWith('//')) return m[1] + loc;
  if (loc.startsWith('/')) return `${m[1]}//${m[2]}${loc}`;
  const dir = m[3].slice(0, m[3].lastIndexOf('/') + 1) || '/';
  return `${m[1]}//${m[2]}${dir}${loc}`;
}

function location(res) {
  const h = res.headers || {};
  return h.Location || h.location || null;
}

// `res` answered a request sent with credentials and `redirects: 0`: follow its
// same-origin hops (credentials re-attached), never another origin's.
export function followSameOrigin(res, method, url, body, params, named) {
  let hops = 0;
  let current = res;
  let m = method;
  let b = body;
  let from = url;
  while (current.status >= 300 && current.status < 400 && location(current) && hops < MAX_HOPS) {
    const next = resolveLocation(from, location(current));
    if (next === null || originOf(next) !== named) return current;
    if (current.status === 303 || ((current.status === 301 || current.status === 302) && m !== 'GET' && m !== 'HEAD')) {
      m = 'GET';
      b = null;
    }
    current = http.request(m, next, b, params);
    from = next;
    hops += 1;
  }
  return current;
}
