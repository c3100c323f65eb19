// filter_lazy_type — keeps events whose type starts with one of the
// configured prefixes and whose data is not too large.
//
// A *lazy* filter (world `lazy-filter`, see the `world` file next to this
// one) written in JavaScript with the Signalbox SDK: `keep` gets a
// `LazyEvent` and reads `type` and the data's size from it, so the host
// copies those two into the plugin and never the data itself.
//
// Configuration:
//
// | key              | default    | meaning                                        |
// |------------------|------------|------------------------------------------------|
// | `prefixes`       | (required) | type prefixes to keep, a list or comma-separated |
// | `max_data_bytes` | unlimited  | drop events whose data is larger than this     |

/** @typedef {import('@signalbox/plugin-sdk').Config} Config */
/** @typedef {import('@signalbox/plugin-sdk').LazyEvent} LazyEvent */

/** @type {string[]} */
let prefixes = [];
let maxDataBytes = Infinity;

/** @param {Config} config */
export function init(config) {
  config.expectKeys(['prefixes', 'max_data_bytes']);
  prefixes = config.list('prefixes');
  maxDataBytes = config.number('max_data_bytes', Infinity);
}

/** @param {LazyEvent} event */
export function keep(event) {
  const type = event.type;
  if (!prefixes.some((p) => type.startsWith(p))) return false;
  return (event.dataSize ?? 0) <= maxDataBytes;
}
