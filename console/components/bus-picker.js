// A select for pages that show one bus: changing it opens the same page on
// the chosen bus. GET /v1/buses lists the buses the token may read.

import { get, getToken } from '../api.js';
import { h, field } from '../lib/dom.js';

let cache = { at: 0, token: null, names: [] };

/** Names of the buses the session may read (cached for a few seconds). */
export async function busNames(signal) {
  const token = getToken();
  if (cache.token === token && Date.now() - cache.at < 5000) return cache.names;
  const { buses } = await get('/v1/buses', { signal });
  cache = { at: Date.now(), token, names: buses.map((b) => b.name) };
  return cache.names;
}

/** Forgets the cached names (after a bus was created or deleted). */
export function forgetBusNames() {
  cache = { at: 0, token: null, names: [] };
}

/** page: the route's first segment ('tail', 'rules', …). */
export async function busPicker(ctx, page) {
  const names = await busNames(ctx.signal).catch(() => [ctx.params.bus]);
  if (!names.includes(ctx.params.bus)) names.push(ctx.params.bus);
  const select = h('select', {
    testid: 'bus-picker',
    onchange: () => ctx.navigate(ctx.route(page, select.value)),
  }, names.map((n) => h('option', { value: n, selected: n === ctx.params.bus }, n)));
  return h('div', { class: 'bus-picker' }, field('Bus', select));
}
