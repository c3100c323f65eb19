// Who is signed in and what their token may do, from GET /v1/whoami
// (any valid token may ask). The console offers only what the token may
// use: pages and controls its scopes do not allow are not drawn.

import { get } from './api.js';

const BUS_KEY = 'signalbox.bus';

export const session = {
  token: '',
  name: '', // the token's name ('' on an open server)
  open: false, // the server has no tokens yet (loopback): everything is allowed
  admin: false,
  metrics: false,
  readAny: false,
  readBuses: [], // buses a read:<bus> scope names
  publishAny: false,
  publishBuses: [],
  ready: false,
};

/** What the role is called in the header. */
export function roleName() {
  if (session.open) return 'open server';
  if (session.admin) return 'admin';
  if (session.readAny || session.readBuses.length) return 'read-only';
  if (session.metrics) return 'metrics only';
  if (session.publishAny || session.publishBuses.length) return 'publish only';
  return 'no access';
}

export function canRead(bus) {
  return session.admin || session.readAny || session.readBuses.includes(bus);
}

export function currentBus() {
  return sessionStorage.getItem(BUS_KEY) || 'default';
}

export function setCurrentBus(bus) {
  sessionStorage.setItem(BUS_KEY, bus);
}

/** Whether the server answers without a token (no tokens yet, loopback). */
export async function serverIsOpen() {
  try {
    const me = await get('/v1/whoami', { token: '' });
    return me.open === true;
  } catch {
    return false;
  }
}

/**
 * Asks the server what `token` may do and fills `session`. Throws an
 * ApiError (401) for a token the server does not accept.
 */
export async function probe(token) {
  const me = await get('/v1/whoami', { token });
  const star = (list) => Array.isArray(list) && list.includes('*');
  const named = (list) => (Array.isArray(list) ? list.filter((b) => b !== '*') : []);
  const s = {
    token,
    name: me.token ? me.token.name : '',
    open: me.open === true,
    admin: me.admin === true,
    metrics: me.metrics === true,
    readAny: star(me.read),
    readBuses: named(me.read),
    publishAny: star(me.publish),
    publishBuses: named(me.publish),
    ready: true,
  };
  Object.assign(session, s);
  return session;
}

export function signOut() {
  Object.assign(session, {
    token: '',
    name: '',
    open: false,
    admin: false,
    metrics: false,
    readAny: false,
    readBuses: [],
    publishAny: false,
    publishBuses: [],
    ready: false,
  });
}
