// @ts-check
/**
 * The Signalbox plugin SDK for JavaScript: events, configuration and errors
 * that feel like ordinary JavaScript on top of the generated bindings for
 * `signalbox:plugin@0.1.1` (see `wit.d.ts` for the raw shapes).
 *
 * A plugin is an ES module that exports `init(config)` (optional) and the
 * entry point of its world:
 *
 * ```js
 * import { Event, PluginError } from '@signalbox/plugin-sdk';
 *
 * let threshold = 1000;
 * export function init(config) {
 *   threshold = config.number('threshold', 1000);
 * }
 * export function keep(event) {            // world `filter`
 *   return (event.dataJson()?.total ?? 0) >= threshold;
 * }
 * ```
 *
 * Build it with `node sdk/js/build.mjs plugin.js --world filter -o plugin.wasm`.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The media type `json` data gets when the event does not declare a JSON one. */
export const JSON_MEDIA_TYPE = 'application/json';

/**
 * Whether a media type denotes JSON: `application/json`, `text/json` or any
 * `+json` suffix, ignoring parameters and case (the host's rule).
 * @param {string | undefined} mediaType
 * @returns {boolean}
 */
export function isJsonMediaType(mediaType) {
  if (!mediaType) return false;
  const essence = mediaType.split(';')[0].trim().toLowerCase();
  return essence === 'application/json' || essence === 'text/json' || (essence.length > 5 && essence.endsWith('+json'));
}

/**
 * An error a plugin reports on purpose: the message is recorded in the
 * event's trace and the rule's status. Throwing any other error has the
 * same effect (its name and message are reported); throwing a
 * `PluginError` just says "this message is for the operator".
 */
export class PluginError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'PluginError';
  }
}

/**
 * @typedef {string | boolean | number} ExtensionValue
 * A CloudEvents extension value: a string, a boolean, or a 32-bit integer.
 */

/**
 * @typedef {object} EventInit
 * @property {string} id
 * @property {string} source
 * @property {string} type
 * @property {string} [subject]
 * @property {string} [time] RFC 3339
 * @property {string} [datacontenttype]
 * @property {string} [dataschema]
 * @property {Record<string, ExtensionValue>} [extensions]
 * @property {Uint8Array | string} [data] raw bytes, or text (UTF-8)
 * @property {unknown} [json] data as a JSON value (sets `datacontenttype` to
 *   `application/json` unless it already names a JSON type)
 */

const ATTRIBUTES = ['id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema'];

/**
 * `data` parsed as JSON, or `undefined` without data. Throws a
 * `PluginError` naming the event when the data is declared another type or
 * does not parse.
 * @param {string} id
 * @param {string | undefined} media
 * @param {Uint8Array | undefined} data
 * @returns {any}
 */
function parseJsonData(id, media, data) {
  if (data === undefined) return undefined;
  if (media !== undefined && !isJsonMediaType(media)) {
    throw new PluginError(`data of event ${id} is ${media}, not JSON`);
  }
  try {
    return JSON.parse(decoder.decode(data));
  } catch (e) {
    throw new PluginError(`data of event ${id} is not valid JSON: ${/** @type {Error} */ (e).message}`);
  }
}

/**
 * The event a lazy filter (world `lazy-filter`) decides on, read attribute
 * by attribute: each getter asks the host for its attribute and copies it
 * in, again on every read, so keep what you need twice in a variable. A
 * filter that looks at one or two attributes of a large event saves the
 * copy of everything else. It always reads the event of the `keep` call
 * running now (the same object is passed to every call), so do not keep it
 * to read later; read outside any call (in `init`), it traps.
 */
export class LazyEvent {
  /**
   * @param {any} lazy the generated `signalbox:plugin/lazy` functions
   * @param {() => Event} toEvent
   */
  constructor(lazy, toEvent) {
    this.#lazy = lazy;
    this.#toEvent = toEvent;
    Object.freeze(this);
  }

  /** @type {any} */ #lazy;
  /** @type {() => Event} */ #toEvent;

  /** @returns {string} */ get id() { return this.#lazy.id(); }
  /** @returns {string} */ get source() { return this.#lazy.source(); }
  /** @returns {string} */ get type() { return this.#lazy.type(); }
  /** @returns {string | undefined} */ get subject() { return this.#lazy.subject(); }
  /** @returns {string | undefined} */ get time() { return this.#lazy.time(); }
  /** @returns {string | undefined} */ get datacontenttype() { return this.#lazy.datacontenttype(); }
  /** @returns {string | undefined} */ get dataschema() { return this.#lazy.dataschema(); }
  /** @returns {Uint8Array | undefined} */ get data() { return this.#lazy.data(); }
  /** The size of the data in bytes, without copying it. @returns {number | undefined} */
  get dataSize() { return this.#lazy.dataSize(); }

  /** Every extension attribute. @returns {Readonly<Record<string, ExtensionValue>>} */
  get extensions() {
    /** @type {Record<string, ExtensionValue>} */
    const out = {};
    for (const [name, value] of this.#lazy.extensions()) out[name] = value.val;
    return Object.freeze(out);
  }

  /**
   * One extension attribute (only that one is copied), or `fallback`.
   * @param {string} name
   * @param {ExtensionValue} [fallback]
   */
  extension(name, fallback) {
    const v = this.#lazy.extension(name);
    return v === undefined ? fallback : v.val;
  }

  /** The data parsed as JSON, as `Event.dataJson()`. @returns {any} */
  dataJson() {
    const data = this.data;
    return data === undefined ? undefined : parseJsonData(this.id, this.datacontenttype, data);
  }

  /** The whole event, copied in at once. */
  toEvent() {
    return this.#toEvent();
  }
}

/** One CloudEvents 1.0 event. Instances are immutable; `with()` makes a changed copy. */
export class Event {
  /** @param {EventInit} init */
  constructor(init) {
    if (init === null || typeof init !== 'object') throw new TypeError('new Event(init): init must be an object');
    /** @type {string} */ this.id = String(init.id ?? '');
    /** @type {string} */ this.source = String(init.source ?? '');
    /** @type {string} */ this.type = String(init.type ?? '');
    /** @type {string | undefined} */ this.subject = init.subject ?? undefined;
    /** @type {string | undefined} */ this.time = init.time ?? undefined;
    /** @type {string | undefined} */ this.datacontenttype = init.datacontenttype ?? undefined;
    /** @type {string | undefined} */ this.dataschema = init.dataschema ?? undefined;
    /** @type {Readonly<Record<string, ExtensionValue>>} */
    this.extensions = Object.freeze({ ...(init.extensions ?? {}) });
    /** @type {Uint8Array | undefined} */
    this.data = undefined;
    if ('json' in init && init.json !== undefined) {
      this.data = encoder.encode(JSON.stringify(init.json));
      if (!isJsonMediaType(this.datacontenttype)) this.datacontenttype = JSON_MEDIA_TYPE;
    } else if (typeof init.data === 'string') {
      this.data = encoder.encode(init.data);
    } else if (init.data instanceof Uint8Array) {
      this.data = init.data;
    } else if (ArrayBuffer.isView(init.data)) {
      const v = /** @type {ArrayBufferView} */ (init.data);
      this.data = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    } else if (Array.isArray(init.data)) {
      this.data = Uint8Array.from(init.data);
    } else if (init.data != null) {
      throw new TypeError(`Event data must be a Uint8Array or a string (got ${Object.prototype.toString.call(init.data)}); use \`json\` for JSON values`);
    }
    Object.freeze(this);
  }

  /** Whether the data is declared JSON (`datacontenttype`), or undeclared, as CloudEvents JSON implies. */
  isJson() {
    return this.datacontenttype === undefined || isJsonMediaType(this.datacontenttype);
  }

  /** The data as text (UTF-8), or `undefined` without data. */
  dataText() {
    return this.data === undefined ? undefined : decoder.decode(this.data);
  }

  /**
   * The data parsed as JSON, or `undefined` when the event has no data.
   * Throws a `PluginError` naming the event when the data is not JSON.
   * @returns {any}
   */
  dataJson() {
    return parseJsonData(this.id, this.datacontenttype, this.data);
  }

  /**
   * An extension attribute's value, or `fallback` when absent.
   * @param {string} name
   * @param {ExtensionValue} [fallback]
   */
  extension(name, fallback) {
    return Object.prototype.hasOwnProperty.call(this.extensions, name) ? this.extensions[name] : fallback;
  }

  /**
   * A copy with some attributes changed. `extensions` replaces all of them;
   * use `setExtensions` to add or remove (`undefined`) a few. `json` or
   * `data` replace the data. Attributes set to `null` are removed.
   * @param {Partial<EventInit> & { setExtensions?: Record<string, ExtensionValue | undefined> }} changes
   */
  with(changes) {
    /** @type {any} */
    const init = { ...this.fields(), ...changes };
    if ('json' in changes) delete init.data;
    for (const a of ATTRIBUTES) if (init[a] === null) init[a] = undefined;
    if (changes.setExtensions) {
      const ext = { ...init.extensions };
      for (const [k, v] of Object.entries(changes.setExtensions)) {
        if (v === undefined) delete ext[k];
        else ext[k] = v;
      }
      init.extensions = ext;
      delete init.setExtensions;
    }
    return new Event(init);
  }

  /** The attributes as a plain object (the `EventInit` that rebuilds this event). */
  fields() {
    return {
      id: this.id, source: this.source, type: this.type, subject: this.subject, time: this.time,
      datacontenttype: this.datacontenttype, dataschema: this.dataschema,
      extensions: { ...this.extensions }, data: this.data,
    };
  }

  /**
   * The event in the CloudEvents JSON format (structured mode): JSON data
   * as `data`, other data as `data_base64`. `JSON.stringify(event)` uses it.
   */
  toJSON() {
    /** @type {Record<string, unknown>} */
    const out = { specversion: '1.0' };
    for (const a of ATTRIBUTES) {
      const v = /** @type {any} */ (this)[a];
      if (v !== undefined) out[a] = v;
    }
    Object.assign(out, this.extensions);
    if (this.data !== undefined) {
      let parsed;
      let ok = false;
      if (this.isJson()) {
        try { parsed = JSON.parse(decoder.decode(this.data)); ok = true; } catch { ok = false; }
      }
      if (ok) out.data = parsed;
      else out.data_base64 = base64(this.data);
    }
    return out;
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** @param {Uint8Array} bytes */
function base64(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return out;
}

/**
 * The rule's configuration for this plugin. Values that were not strings in
 * the rule's JSON arrive as JSON text (`42` as `"42"`, `["a"]` as
 * `'["a"]'`); the typed getters parse them and throw a `PluginError`
 * naming the key when they cannot.
 */
export class Config {
  /** @param {Array<[string, string]>} [pairs] */
  constructor(pairs = []) {
    /** @type {Map<string, string>} */
    this.map = new Map();
    for (const [k, v] of pairs) if (!this.map.has(k)) this.map.set(k, v);
  }

  /** @param {string} key */
  has(key) { return this.map.has(key); }

  /**
   * The raw value, or `fallback`.
   * @param {string} key
   * @param {string} [fallback]
   */
  get(key, fallback) { return this.map.has(key) ? this.map.get(key) : fallback; }

  /** @param {string} key */
  require(key) {
    const v = this.map.get(key);
    if (v === undefined) throw new PluginError(`config: \`${key}\` is required`);
    return v;
  }

  /**
   * @param {string} key
   * @param {number} [fallback]
   * @returns {number}
   */
  number(key, fallback) {
    const raw = this.map.get(key);
    if (raw === undefined) {
      if (fallback === undefined) throw new PluginError(`config: \`${key}\` is required`);
      return fallback;
    }
    const n = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(n)) throw new PluginError(`config: \`${key}\` = ${JSON.stringify(raw)}: expected a finite number`);
    return n;
  }

  /**
   * @param {string} key
   * @param {boolean} [fallback]
   * @returns {boolean}
   */
  bool(key, fallback) {
    const raw = this.map.get(key);
    if (raw === undefined) {
      if (fallback === undefined) throw new PluginError(`config: \`${key}\` is required`);
      return fallback;
    }
    if (raw.trim() === 'true') return true;
    if (raw.trim() === 'false') return false;
    throw new PluginError(`config: \`${key}\` = ${JSON.stringify(raw)}: expected true or false`);
  }

  /**
   * A list of strings: a JSON array (how a list in the rule's JSON arrives)
   * or a comma-separated string. Items are trimmed, empty ones dropped.
   * @param {string} key
   * @param {string[]} [fallback]
   * @returns {string[]}
   */
  list(key, fallback) {
    const raw = this.map.get(key);
    if (raw === undefined) {
      if (fallback === undefined) throw new PluginError(`config: \`${key}\` is required`);
      return fallback;
    }
    /** @type {unknown[]} */
    let items;
    if (raw.trimStart().startsWith('[')) {
      try { items = JSON.parse(raw); } catch (e) { throw new PluginError(`config: \`${key}\`: expected a list of strings: ${/** @type {Error} */ (e).message}`); }
      if (!Array.isArray(items) || items.some((i) => typeof i !== 'string')) throw new PluginError(`config: \`${key}\`: expected a list of strings`);
    } else {
      items = raw.split(',');
    }
    return items.map((s) => String(s).trim()).filter((s) => s !== '');
  }

  /**
   * The value parsed as JSON (objects and arrays arrive as JSON text).
   * @param {string} key
   * @param {unknown} [fallback]
   * @returns {any}
   */
  json(key, fallback) {
    const raw = this.map.get(key);
    if (raw === undefined) {
      if (fallback === undefined) throw new PluginError(`config: \`${key}\` is required`);
      return fallback;
    }
    try { return JSON.parse(raw); } catch { return raw; }
  }

  /**
   * Throws when the configuration has a key not in `known`, so a typo is
   * reported by `init` instead of silently using a default.
   * @param {string[]} known
   */
  expectKeys(known) {
    for (const key of this.map.keys()) {
      if (!known.includes(key)) {
        throw new PluginError(known.length === 0
          ? `config: unknown key \`${key}\`; this plugin takes no configuration`
          : `config: unknown key \`${key}\`; this plugin knows ${known.map((k) => `\`${k}\``).join(', ')}`);
      }
    }
  }

  /** @returns {IterableIterator<[string, string]>} */
  entries() { return this.map.entries(); }
}
