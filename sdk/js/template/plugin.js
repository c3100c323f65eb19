// A Signalbox transform plugin in JavaScript: copy this folder, rename it,
// and edit. For a filter, export `keep(event)` returning true/false instead
// of `transform`, and build with `--world filter`.
//
// Build:  npm run build            (or: node ../../../sdk/js/build.mjs plugin.js --world transform -o plugin.wasm)
// Try:    signalbox plugin test plugin.wasm --event event.json -c greeting=Hej
import { Event, PluginError } from '@signalbox/plugin-sdk';

let greeting = 'Hello';

/** Called once per instance with the rule's configuration for this plugin. */
export function init(config) {
  config.expectKeys(['greeting']);
  greeting = config.get('greeting', 'Hello');
}

/**
 * Returns the events that replace `event`: one, several (an array), or none
 * (`null`) to drop it. Throw a PluginError to fail this event with a message
 * that shows up in its trace.
 */
export function transform(event) {
  const data = event.dataJson();
  if (data?.name === undefined) throw new PluginError(`event ${event.id} has no data.name`);
  console.log(`greeting ${data.name}`); // goes to the Signalbox log, tagged with the rule
  return event.with({
    type: `${event.type}.greeted`,
    json: { ...data, greeting: `${greeting}, ${data.name}!` },
    setExtensions: { greeted: true },
  });
}
