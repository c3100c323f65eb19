// The raw shapes of `signalbox:plugin@0.1.1` as componentize-js passes them
// (jco's conventions), written by hand from wit/plugin.wit because `jco
// types` cannot read a WIT folder on this toolchain. Plugin authors use the
// `Event` and `Config` of `index.d.ts`; these are what `world.js` converts.

/** `variant attribute-value` */
export type WitAttributeValue =
  | { tag: 'str'; val: string }
  | { tag: 'boolean'; val: boolean }
  | { tag: 'integer'; val: number };

/** `record event`: `option<T>` is `T | undefined`, `list<u8>` a `Uint8Array`. */
export interface WitEvent {
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype?: string;
  dataschema?: string;
  extensions: Array<[string, WitAttributeValue]>;
  data?: Uint8Array;
}

/** `type config = list<tuple<string, string>>` */
export type WitConfig = Array<[string, string]>;

/** `record error`: thrown as `{ payload: WitError }` for the `err` case of a `result`. */
export interface WitError {
  message: string;
}

/** World `filter`. */
export interface FilterWorld {
  init(config: WitConfig): void;
  keep(event: WitEvent): boolean;
}

/** World `transform`. */
export interface TransformWorld {
  init(config: WitConfig): void;
  transform(event: WitEvent): WitEvent[];
}
