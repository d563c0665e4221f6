// Placeholder filling: `{{faker.<generator>}}` and `{{data.<column>}}` (a row of the
// endpoint's data_file). Templates are compiled once in the init context; an endpoint
// without placeholders costs nothing per iteration.

import { generators } from './faker.js';

const TOKEN = /"\{\{\s*([A-Za-z]+)\.([A-Za-z0-9_\-]+)\s*\}\}"|\{\{\s*([A-Za-z]+)\.([A-Za-z0-9_\-]+)\s*\}\}/g;

function lookup(kind, key, row) {
  if (kind === 'faker') {
    const gen = generators[key];
    return gen ? gen() : '';
  }
  if (kind === 'data') return row && key in row ? row[key] : '';
  return '';
}

// A string template. `encode` escapes each substituted value (for URLs or JSON text).
function compile(text, encode) {
  if (typeof text !== 'string' || text.indexOf('{{') < 0) return null;
  return (row) =>
    text.replace(TOKEN, (whole, qKind, qKey, kind, key) => {
      if (qKind) {
        // A whole JSON string that is one placeholder: keep numbers and booleans typed.
        const value = lookup(qKind, qKey, row);
        return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value);
      }
      return encode(String(lookup(kind, key, row)));
    });
}

const jsonEscape = (s) => JSON.stringify(s).slice(1, -1);
const identity = (s) => s;

export function compilePath(path) {
  return compile(path, encodeURIComponent);
}

// JSON values (bodies, GraphQL variables) are templated on their JSON text.
export function compileJson(value) {
  if (value === undefined || value === null) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return compile(text, typeof value === 'string' ? identity : jsonEscape);
}

export function compileHeaders(headers) {
  const keys = Object.keys(headers || {});
  const templated = keys.filter((k) => typeof headers[k] === 'string' && headers[k].indexOf('{{') >= 0);
  if (templated.length === 0) return null;
  const parts = templated.map((k) => [k, compile(headers[k], identity)]);
  return (row) => {
    const out = Object.assign({}, headers);
    for (const [k, fn] of parts) out[k] = fn(row);
    return out;
  };
}
