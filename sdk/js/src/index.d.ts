// Types of the Signalbox JavaScript plugin SDK (src/index.js).

export type ExtensionValue = string | boolean | number;

export interface EventInit {
  id: string;
  source: string;
  type: string;
  subject?: string;
  /** RFC 3339 */
  time?: string;
  datacontenttype?: string;
  dataschema?: string;
  extensions?: Record<string, ExtensionValue>;
  /** Raw bytes, or text (UTF-8). */
  data?: Uint8Array | string;
  /** Data as a JSON value; sets `datacontenttype` to `application/json` unless it names a JSON type already. */
  json?: unknown;
}

export declare const JSON_MEDIA_TYPE: 'application/json';
export declare function isJsonMediaType(mediaType: string | undefined): boolean;

/** An error reported on purpose: its message is recorded in the event's trace and the rule's status. */
export declare class PluginError extends Error {
  constructor(message: string);
}

/** One CloudEvents 1.0 event (immutable; `with()` makes a changed copy). */
export declare class Event {
  constructor(init: EventInit);
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject?: string;
  readonly time?: string;
  readonly datacontenttype?: string;
  readonly dataschema?: string;
  readonly extensions: Readonly<Record<string, ExtensionValue>>;
  readonly data?: Uint8Array;
  isJson(): boolean;
  dataText(): string | undefined;
  /** Parsed JSON data, `undefined` without data; throws `PluginError` if the data is not JSON. */
  dataJson<T = any>(): T | undefined;
  extension(name: string, fallback?: ExtensionValue): ExtensionValue | undefined;
  with(changes: { [K in keyof EventInit]?: EventInit[K] | null } & { setExtensions?: Record<string, ExtensionValue | undefined> }): Event;
  fields(): EventInit;
  toJSON(): Record<string, unknown>;
}

/**
 * The event a lazy filter (world `lazy-filter`) decides on: each getter
 * copies its attribute in from the host when read. It reads the event of the
 * `keep` call running now; outside any call it traps.
 */
export declare class LazyEvent {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject?: string;
  readonly time?: string;
  readonly datacontenttype?: string;
  readonly dataschema?: string;
  readonly extensions: Readonly<Record<string, ExtensionValue>>;
  readonly data?: Uint8Array;
  /** The size of the data in bytes, without copying it. */
  readonly dataSize?: number;
  extension(name: string, fallback?: ExtensionValue): ExtensionValue | undefined;
  dataJson<T = any>(): T | undefined;
  toEvent(): Event;
}

/** The rule's configuration for this plugin. Getters throw `PluginError` naming the key. */
export declare class Config {
  constructor(pairs?: Array<[string, string]>);
  has(key: string): boolean;
  get(key: string, fallback?: string): string | undefined;
  require(key: string): string;
  number(key: string, fallback?: number): number;
  bool(key: string, fallback?: boolean): boolean;
  list(key: string, fallback?: string[]): string[];
  json(key: string, fallback?: unknown): any;
  expectKeys(known: string[]): void;
  entries(): IterableIterator<[string, string]>;
}

/** What a filter module exports. */
export interface FilterPlugin {
  init?(config: Config): void;
  keep(event: Event): boolean;
}

/** What a lazy filter module exports (world `lazy-filter`). */
export interface LazyFilterPlugin {
  init?(config: Config): void;
  keep(event: LazyEvent): boolean;
}

/** What a transform module exports. */
export interface TransformPlugin {
  init?(config: Config): void;
  transform(event: Event): Event | Event[] | null | undefined;
}
