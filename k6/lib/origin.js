// Origins: credentials attach only to the origin the user named (BASE_URL, already
// checked by Luna's one URL model, luna/urls.py), and only its redirects are followed
// (lib/redirects.js). k6's own redirect following would copy Authorization to another
// port of the same host and every custom header (an API key) anywhere, so Luna sends
// every request with `redirects: 0`.

const DEFAULT_PORTS = { http: '80', https: '443' };

// Compiled once: k6's JS engine compiles a regex literal each time it is evaluated, which
// made originOf a fifth of compiling an endpoint at init.
const SCHEME_AUTHORITY = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/;
const DOUBTFUL = /[@\\\s]/;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:]+)(?::(\d*))?$/;

// "scheme://host:port" of an absolute http(s) URL, or null for anything doubtful.
export function originOf(url) {
  const m = SCHEME_AUTHORITY.exec(String(url));
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  const authority = m[2];
  if (!(scheme in DEFAULT_PORTS) || DOUBTFUL.test(authority) || authority === '') return null;
  const hp = HOST_PORT.exec(authority);
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
