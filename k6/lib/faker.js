// Fake data for request bodies, like xk6-faker, with no extension and no remote import.
// Placeholders `{{faker.<name>}}` are filled per iteration (see template.js).
// Adding a generator: add one entry to `generators`; luna/template.py reads this file's
// keys to validate placeholders before k6 starts.

const FIRST = ['Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia', 'Tim'];
const LAST = ['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen', 'Dijkstra', 'Perlman', 'Berners-Lee'];
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa'];
const CITIES = ['Lisbon', 'Oslo', 'Nairobi', 'Osaka', 'Lima', 'Perth', 'Quebec', 'Tallinn'];
const COUNTRIES = ['PT', 'NO', 'KE', 'JP', 'PE', 'AU', 'CA', 'EE'];
const COMPANIES = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wayne'];
const HEX = '0123456789abcdef';

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function randInt(min, max) {
  return min + Math.floor(Math.random() * (max - min + 1));
}

function hex(n) {
  let out = '';
  for (let i = 0; i < n; i++) out += HEX[Math.floor(Math.random() * 16)];
  return out;
}

function uuid() {
  const variant = HEX[8 + Math.floor(Math.random() * 4)];
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`;
}

function isoDate(offsetDays) {
  return new Date(Date.now() + offsetDays * 86400000).toISOString();
}

export const generators = {
  uuid: () => uuid(),
  email: () => `${pick(FIRST).toLowerCase()}.${hex(6)}@example.com`,
  firstName: () => pick(FIRST),
  lastName: () => pick(LAST),
  name: () => `${pick(FIRST)} ${pick(LAST)}`,
  username: () => `${pick(FIRST).toLowerCase()}_${hex(4)}`,
  password: () => `${hex(8)}A!${hex(4)}`,
  phone: () => `+1-555-${randInt(100, 999)}-${randInt(1000, 9999)}`,
  int: () => randInt(0, 1000000),
  smallInt: () => randInt(1, 100),
  float: () => Math.round(Math.random() * 100000) / 100,
  bool: () => Math.random() < 0.5,
  word: () => pick(WORDS),
  sentence: () => `${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)}.`,
  company: () => `${pick(COMPANIES)} ${pick(['Inc', 'Ltd', 'GmbH', 'LLC'])}`,
  city: () => pick(CITIES),
  countryCode: () => pick(COUNTRIES),
  zip: () => String(randInt(10000, 99999)),
  url: () => `https://example.com/${pick(WORDS)}/${hex(6)}`,
  ipv4: () => `192.0.2.${randInt(1, 254)}`,
  hex: () => hex(16),
  date: () => isoDate(-randInt(0, 3650)).slice(0, 10),
  datetime: () => isoDate(-randInt(0, 3650)),
  futureDate: () => isoDate(randInt(1, 365)).slice(0, 10),
  color: () => `#${hex(6)}`,
};
