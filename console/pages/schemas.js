// Schemas of a bus: the registered versions per event type, the bus's
// validation settings, and the schemas discovery proposes from the events
// it has seen (which can be registered as a version).
//
// API: GET /v1/buses/{bus}/schemas -> {"schemas", "discovered", "settings"};
// GET /v1/buses/{bus}/schemas/{type}/discovered;
// PUT|DELETE /v1/buses/{bus}/schemas/{type}/versions/{version}.

import {
  get, put, del, seg,
} from '../api.js';
import {
  h, mount, field, busy, notice, num, badge,
} from '../lib/dom.js';
import { table } from '../components/table.js';
import { jsonEditor, jsonView } from '../components/json.js';
import { busPicker } from '../components/bus-picker.js';

export async function render(root, ctx) {
  const { bus } = ctx.params;
  const base = `/v1/buses/${seg(bus)}/schemas`;
  const msg = h('div', { class: 'slot' });
  const settings = h('div', { class: 'slot' });
  const registered = h('div', { class: 'slot' });
  const discovered = h('div', { class: 'slot' });
  const view = h('div', { class: 'slot', testid: 'schema-view' });

  const typeIn = h('input', { name: 'type', required: true, testid: 'schema-type', autocomplete: 'off' });
  const versionIn = h('input', { name: 'version', required: true, testid: 'schema-version', placeholder: '1', autocomplete: 'off' });
  const schemaEd = jsonEditor({
    label: 'JSON Schema (2020-12)', rows: 10, testid: 'schema-json',
    value: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object' },
  });
  const saveBtn = h('button', { type: 'submit', class: 'primary', testid: 'schema-save' }, 'Register version');

  async function load() {
    const r = await get(base, { signal: ctx.signal });
    const s = r.settings || {};
    mount(settings, h('p', { testid: 'schema-settings' },
      'Validation: ', badge(s.default_policy || 'off', 'info'),
      Object.keys(s.per_type || {}).length ? ` · per type: ${Object.entries(s.per_type).map(([t, p]) => `${t}=${p}`).join(', ')}` : '',
      ' · discovery ', badge(s.discovery ? 'on' : 'off', s.discovery ? 'ok' : 'muted'),
      h('span', { class: 'muted' }, ' (change them with PUT /v1/buses/{bus}, member "schemas")')));
    mount(registered, table([
      { label: 'Type', render: (v) => v.event_type },
      { label: 'Version', render: (v) => v.version },
      { label: '$id', class: 'mono', render: (v) => (v.schema && (v.schema.$id || v.schema.id)) || '—' },
      { label: 'Registered', render: (v) => (v.created_at ? new Date(v.created_at / 1000).toLocaleString() : '—') },
      {
        label: '',
        render: (v) => h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'small', onclick: () => mount(view, h('section', { class: 'card' }, h('h2', null, `${v.event_type} v${v.version}`), jsonView(v.schema))) }, 'View'),
          h('button', {
            type: 'button', class: 'small danger',
            onclick: (e) => {
              if (!window.confirm(`Delete version ${v.version} of ${v.event_type}?`)) return;
              busy(e.currentTarget, async () => {
                await del(`${base}/${seg(v.event_type)}/versions/${seg(v.version)}`);
                await load();
              }, msg);
            },
          }, 'Delete')),
      },
    ], r.schemas, { testid: 'schemas-table', rowTestid: 'schema-row', empty: 'No schema registered on this bus.' }));
    mount(discovered, table([
      { label: 'Type', render: (d) => d.type },
      { label: 'Events seen', class: 'num', render: (d) => num(d.samples) },
      {
        label: '',
        render: (d) => h('button', {
          type: 'button', class: 'small', testid: 'schema-discovered-view',
          onclick: (e) => busy(e.currentTarget, async () => {
            const proposed = await get(`${base}/${seg(d.type)}/discovered`, { signal: ctx.signal });
            mount(view, h('section', { class: 'card' },
              h('div', { class: 'page-head' }, h('h2', null, `Discovered: ${d.type}`),
                h('button', {
                  type: 'button', onclick: () => {
                    typeIn.value = d.type;
                    schemaEd.set(proposed);
                    typeIn.scrollIntoView({ behavior: 'smooth' });
                  },
                }, 'Use as a new version')),
              jsonView(proposed)));
          }, msg),
        }, 'View proposed schema'),
      },
    ], r.discovered, { testid: 'discovered-table', empty: 'Nothing discovered: turn on "discovery" in the bus\'s schema settings.' }));
  }

  const form = h('form', {
    class: 'card',
    onsubmit: (e) => {
      e.preventDefault();
      busy(saveBtn, async () => {
        await put(`${base}/${seg(typeIn.value.trim())}/versions/${seg(versionIn.value.trim())}`, schemaEd.get(), { signal: ctx.signal });
        mount(msg, notice('ok', `Registered ${typeIn.value.trim()} version ${versionIn.value.trim()}.`));
        await load();
      }, msg);
    },
  }, h('h2', null, 'Register a schema version'),
  h('div', { class: 'form-row' }, field('Event type', typeIn), field('Version', versionIn)),
  schemaEd, h('div', { class: 'actions' }, saveBtn));

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Schemas'), await busPicker(ctx, 'schemas')),
    settings, msg,
    h('h2', null, 'Registered'), registered,
    h('h2', null, 'Discovered'), discovered,
    view, form,
  );
  await load();
}
