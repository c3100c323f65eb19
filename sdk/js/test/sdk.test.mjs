// Unit tests of the helper layer, run natively: node --test sdk/js/test
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Config, Event, PluginError, isJsonMediaType } from '../src/index.js';
import { describe, exportFilter, exportLazyFilter, exportTransform, fromWit, toWit } from '../src/world.js';

const raw = {
  id: 'o1', source: '/shop', type: 'order.created', subject: undefined, time: undefined,
  datacontenttype: 'application/json', dataschema: undefined,
  extensions: [['tenant', { tag: 'str', val: 'acme' }], ['n', { tag: 'integer', val: 3 }], ['vip', { tag: 'boolean', val: true }]],
  data: new TextEncoder().encode('{"total": 12.5}'),
};

test('events convert from and back to the WIT shape', () => {
  const e = fromWit(raw);
  assert.equal(e.extension('tenant'), 'acme');
  assert.equal(e.extension('missing', 'x'), 'x');
  assert.deepEqual(e.dataJson(), { total: 12.5 });
  assert.deepEqual(toWit(e, 'e'), raw);
  assert.throws(() => toWit(e.with({ extensions: { big: 2 ** 40 } }), 'out'), /32-bit/);
});

test('with() copies and changes; json sets the media type', () => {
  const e = new Event({ id: '1', source: '/s', type: 't', datacontenttype: 'text/plain', data: 'hi' });
  assert.equal(e.dataText(), 'hi');
  assert.throws(() => e.dataJson(), PluginError);
  const j = e.with({ json: { a: 1 }, subject: 'x', setExtensions: { k: 'v' } });
  assert.equal(j.datacontenttype, 'application/json');
  assert.deepEqual(j.dataJson(), { a: 1 });
  assert.equal(j.subject, 'x');
  assert.deepEqual(j.extensions, { k: 'v' });
  assert.equal(e.subject, undefined, 'the original is unchanged');
  assert.equal(j.with({ subject: null }).subject, undefined);
  assert.deepEqual(JSON.parse(JSON.stringify(j)), { specversion: '1.0', id: '1', source: '/s', type: 't', subject: 'x', datacontenttype: 'application/json', k: 'v', data: { a: 1 } });
  assert.equal(new Event({ id: '1', source: '/s', type: 't', data: new Uint8Array([0xff]) }).toJSON().data_base64, '/w==');
  assert.ok(isJsonMediaType('application/cloudevents+json; charset=utf-8'));
});

test('config getters parse and name the key', () => {
  const c = new Config([['n', '42'], ['b', 'true'], ['l', '["a", " b "]'], ['csv', 'x, y,,'], ['bad', 'lots'], ['n', 'ignored']]);
  assert.equal(c.number('n'), 42);
  assert.equal(c.number('zz', 7), 7);
  assert.equal(c.bool('b'), true);
  assert.deepEqual(c.list('l'), ['a', 'b']);
  assert.deepEqual(c.list('csv'), ['x', 'y']);
  assert.throws(() => c.number('bad'), /config: `bad` = "lots": expected a finite number/);
  assert.throws(() => c.require('zz'), /config: `zz` is required/);
  assert.throws(() => c.expectKeys(['n']), /unknown key `b`; this plugin knows `n`/);
});

test('wrappers report errors as the world error record', () => {
  const f = exportFilter({ keep: (e) => e.dataJson().total > 10 });
  assert.equal(f.keep(raw), true);
  const bad = exportFilter({ keep: () => 'yes' });
  assert.throws(() => bad.keep(raw), (e) => /keep returned "yes"; it must return true or false/.test(e.payload.message));
  const throwing = exportFilter({ init: () => { throw new PluginError('no'); }, keep: () => true });
  assert.throws(() => throwing.init([]), (e) => e.payload.message === 'no');
  const t = exportTransform({ transform: (e) => (e.id === 'o1' ? [e, e.with({ id: 'o2' })] : null) });
  assert.equal(t.transform(raw).length, 2);
  assert.deepEqual(t.transform({ ...raw, id: 'x' }), []);
  assert.match(describe(new TypeError('boom')), /^TypeError: boom/);
  assert.equal(describe('text'), 'threw text');
  assert.throws(() => exportTransform({}), /must export a function named 'transform'/);
});

test('a lazy filter asks the host only for what it reads', () => {
  /** @type {string[]} */
  const asked = [];
  const ext = new Map(raw.extensions);
  /** @param {string} name @param {any} value */
  const fn = (name, value) => (/** @type {any[]} */ ...args) => {
    asked.push(name);
    return typeof value === 'function' ? value(...args) : value;
  };
  const lazy = {
    id: fn('id', raw.id), source: fn('source', raw.source), type: fn('type', raw.type),
    subject: fn('subject', raw.subject), time: fn('time', raw.time),
    datacontenttype: fn('datacontenttype', raw.datacontenttype), dataschema: fn('dataschema', raw.dataschema),
    extension: fn('extension', (/** @type {string} */ n) => ext.get(n)), extensions: fn('extensions', raw.extensions),
    dataSize: fn('dataSize', raw.data.length), data: fn('data', raw.data), toEvent: fn('toEvent', raw),
  };
  const f = exportLazyFilter({ keep: (e) => e.extension('tenant') === 'acme' }, lazy);
  f.init([]);
  assert.equal(f.keepLazy(), true);
  assert.deepEqual(asked, ['extension']);

  /** @type {any} */
  let seen;
  const all = exportLazyFilter({
    keep: (e) => {
      seen = {
        type: e.type, extensions: e.extensions, missing: e.extension('nope', 'dflt'),
        dataSize: e.dataSize, json: e.dataJson(), event: e.toEvent(),
      };
      return false;
    },
  }, lazy);
  assert.equal(all.keepLazy(), false);
  assert.equal(seen.type, 'order.created');
  assert.deepEqual(seen.extensions, { tenant: 'acme', n: 3, vip: true });
  assert.equal(seen.missing, 'dflt');
  assert.equal(seen.dataSize, 15);
  assert.deepEqual(seen.json, { total: 12.5 });
  assert.ok(seen.event instanceof Event);
  const bad = exportLazyFilter({ keep: () => 1 }, lazy);
  assert.throws(() => bad.keepLazy(), (e) => /keep returned 1/.test(/** @type {any} */ (e).payload.message));
});
