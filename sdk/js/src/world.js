// @ts-check
/**
 * The glue between a plugin module and the generated bindings: the build
 * command (`build.mjs`) generates an entry module that calls
 * `exportFilter`, `exportLazyFilter` or `exportTransform` with the plugin's
 * module and re-exports the functions it returns, which are the world's
 * exports in the shapes componentize-js expects (see `wit.d.ts`).
 *
 * What the wrappers do:
 * - turn the raw WIT event into an `Event`, the configuration into a
 *   `Config`, and results back;
 * - turn anything the plugin throws into the world's error record (a
 *   thrown string or a non-error would otherwise trap the instance);
 * - check return values (a filter must return a boolean; a transform an
 *   `Event`, an array of them, or nothing), so a mistake such as returning
 *   a Promise is reported, not silently treated as "keep".
 *
 * @module
 */

import { Config, Event, LazyEvent } from './index.js';

/** @typedef {import('./wit').WitEvent} WitEvent */

/**
 * @param {WitEvent} raw
 * @returns {Event}
 */
export function fromWit(raw) {
  /** @type {Record<string, string | boolean | number>} */
  const extensions = {};
  for (const [name, value] of raw.extensions) extensions[name] = value.val;
  return new Event({
    id: raw.id,
    source: raw.source,
    type: raw.type,
    subject: raw.subject,
    time: raw.time,
    datacontenttype: raw.datacontenttype,
    dataschema: raw.dataschema,
    extensions,
    data: raw.data,
  });
}

/**
 * @param {Event} event
 * @param {string} where for error messages
 * @returns {WitEvent}
 */
export function toWit(event, where) {
  const e = event instanceof Event ? event : new Event(/** @type {any} */ (event));
  /** @type {WitEvent['extensions']} */
  const extensions = [];
  for (const [name, value] of Object.entries(e.extensions)) {
    if (typeof value === 'boolean') extensions.push([name, { tag: 'boolean', val: value }]);
    else if (typeof value === 'string') extensions.push([name, { tag: 'str', val: value }]);
    else if (typeof value === 'number' && Number.isInteger(value) && value >= -2147483648 && value <= 2147483647) {
      extensions.push([name, { tag: 'integer', val: value }]);
    } else {
      throw new Error(`${where}: extension '${name}' is ${JSON.stringify(value)}; extension values are strings, booleans or 32-bit integers`);
    }
  }
  return {
    id: e.id,
    source: e.source,
    type: e.type,
    subject: e.subject,
    time: e.time,
    datacontenttype: e.datacontenttype,
    dataschema: e.dataschema,
    extensions,
    data: e.data,
  };
}

/**
 * The message recorded for a thrown value: a `PluginError`'s message as it
 * is; for other errors their name, message and where they were thrown.
 * @param {unknown} e
 * @returns {string}
 */
export function describe(e) {
  if (e instanceof Error) {
    if (e.name === 'PluginError') return e.message;
    const frame = String(e.stack ?? '').split('\n').find((l) => l.includes(':'));
    const at = frame ? ` (at ${frame.replace(/^.*@/, '').trim()})` : '';
    return `${e.name}: ${e.message}${at}`;
  }
  try {
    return `threw ${typeof e === 'string' ? e : JSON.stringify(e)}`;
  } catch {
    return `threw ${String(e)}`;
  }
}

/** @param {unknown} e */
function fail(e) {
  // componentize-js turns a thrown `{ payload }` into the `err` case.
  return { payload: { message: describe(e) } };
}

/** @param {unknown} value */
function isThenable(value) {
  return value !== null && typeof value === 'object' && typeof /** @type {any} */ (value).then === 'function';
}

/**
 * A filter's answer, checked: anything but a boolean is an error.
 * @param {unknown} r
 * @returns {boolean}
 */
function decided(r) {
  if (typeof r !== 'boolean') {
    throw fail(new Error(`keep returned ${isThenable(r) ? 'a Promise' : JSON.stringify(r) ?? String(r)}; it must return true or false`));
  }
  return r;
}

/**
 * @param {any} plugin the plugin's module namespace
 * @param {string} entry the world's entry point
 */
function common(plugin, entry) {
  if (typeof plugin[entry] !== 'function') {
    throw new Error(`the plugin module must export a function named '${entry}'`);
  }
  if (plugin.init !== undefined && typeof plugin.init !== 'function') {
    throw new Error("the plugin module's 'init' export must be a function");
  }
  return {
    /** @param {Array<[string, string]>} pairs */
    init(pairs) {
      try {
        const r = plugin.init?.(new Config(pairs));
        if (isThenable(r)) throw new Error('init returned a Promise; plugin functions must be synchronous');
      } catch (e) {
        throw fail(e);
      }
    },
  };
}

/**
 * The exports of the `filter` world.
 * @param {{ init?: (config: Config) => void, keep: (event: Event) => boolean }} plugin
 */
export function exportFilter(plugin) {
  const { init } = common(plugin, 'keep');
  return {
    init,
    /** @param {WitEvent} raw */
    keep(raw) {
      let r;
      try {
        r = plugin.keep(fromWit(raw));
      } catch (e) {
        throw fail(e);
      }
      return decided(r);
    },
  };
}

/**
 * The exports of the `lazy-filter` world: the plugin's `keep` gets a
 * `LazyEvent` reading the current event through `lazy`, the generated
 * `signalbox:plugin/lazy` import.
 * @param {{ init?: (config: Config) => void, keep: (event: LazyEvent) => boolean }} plugin
 * @param {any} lazy
 */
export function exportLazyFilter(plugin, lazy) {
  const { init } = common(plugin, 'keep');
  // One LazyEvent serves every call: it holds no event, only the way to
  // read the current one.
  const current = new LazyEvent(lazy, () => fromWit(lazy.toEvent()));
  return {
    init,
    keepLazy() {
      let r;
      try {
        r = plugin.keep(current);
      } catch (e) {
        throw fail(e);
      }
      return decided(r);
    },
  };
}

/**
 * The exports of the `transform` world. `transform` may return an `Event`,
 * an array of events, or `null`/`undefined` (drop the event).
 * @param {{ init?: (config: Config) => void, transform: (event: Event) => Event | Event[] | null | undefined }} plugin
 */
export function exportTransform(plugin) {
  const { init } = common(plugin, 'transform');
  return {
    init,
    /** @param {WitEvent} raw */
    transform(raw) {
      try {
        const r = plugin.transform(fromWit(raw));
        if (isThenable(r)) throw new Error('transform returned a Promise; plugin functions must be synchronous');
        if (r === null || r === undefined) return [];
        const list = Array.isArray(r) ? r : [r];
        return list.map((e, i) => toWit(e, `returned event ${i}`));
      } catch (e) {
        throw fail(e);
      }
    },
  };
}
