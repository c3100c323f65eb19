// Event sources of a bus (schedules, webhooks, brokers): their state and
// counts, pause and resume, create and edit as JSON (docs/sources.md).
//
// API: GET /v1/buses/{bus}/sources -> {"sources": [...]} (each with
// "status": state, last event, last error, counts);
// PUT|DELETE /v1/buses/{bus}/sources/{name};
// POST /v1/buses/{bus}/sources/{name}/pause|resume. A webhook source
// receives at POST /v1/sources/{name}/webhook.

import {
  get, put, post, del, seg,
} from '../api.js';
import {
  h, mount, field, busy, notice, badge, time, num,
} from '../lib/dom.js';
import { table } from '../components/table.js';
import { jsonEditor, jsonView } from '../components/json.js';
import { busPicker } from '../components/bus-picker.js';

const NEW_SOURCE = {
  type: 'schedule',
  enabled: true,
  expression: 'rate(5 minutes)',
  event: { type: 'com.example.tick', source: '/schedules/tick' },
};

// Badge colours of the states a source reports (see docs/sources.md).
const STATE_KIND = {
  running: 'ok', paused: 'muted', reconnecting: 'bad', starting: 'info', finished: 'muted',
};

export async function render(root, ctx) {
  const { bus } = ctx.params;
  const base = `/v1/buses/${seg(bus)}/sources`;
  const msg = h('div', { class: 'slot' });
  const list = h('div', { class: 'slot' });
  const view = h('div', { class: 'slot' });
  const nameIn = h('input', { name: 'source', required: true, testid: 'source-name', autocomplete: 'off' });
  const editor = jsonEditor({ label: 'Source (JSON)', rows: 10, testid: 'source-json', value: NEW_SOURCE });

  const act = (s, action, label, cls = 'small') => h('button', {
    type: 'button', class: cls,
    onclick: (e) => busy(e.currentTarget, async () => {
      if (action === 'delete') {
        if (!window.confirm(`Delete source '${s.name}'?`)) return;
        await del(`${base}/${seg(s.name)}`);
      } else {
        await post(`${base}/${seg(s.name)}/${action}`, undefined);
      }
      await load();
    }, msg),
  }, label);

  async function load() {
    const r = await get(base, { signal: ctx.signal });
    const items = Array.isArray(r) ? r : (r.sources || []);
    mount(list, table([
      { label: 'Source', render: (s) => h('strong', { testid: 'source-name-cell' }, s.name) },
      {
        label: 'Type',
        render: (s) => h('div', null, s.type,
          s.url_path ? h('div', { class: 'muted mono' }, `POST ${s.url_path}`) : null),
      },
      { label: 'State', render: (s) => h('span', { testid: 'source-state' }, badge(s.status.state, STATE_KIND[s.status.state] || 'muted')) },
      { label: 'Events', class: 'num', render: (s) => h('span', { testid: 'source-published' }, num(s.status.published)) },
      { label: 'Duplicates', class: 'num', render: (s) => num(s.status.duplicates) },
      { label: 'Last event', render: (s) => (s.status.last_event_at ? time(s.status.last_event_at) : '—') },
      {
        label: 'Last error',
        render: (s) => (s.status.last_error
          ? h('span', { class: 'tl-error', title: time(s.status.last_error.at) }, s.status.last_error.message) : '—'),
      },
      {
        label: '',
        render: (s) => h('div', { class: 'row-actions' },
          h('button', {
            type: 'button', class: 'small',
            onclick: () => {
              const {
                name: _n, status: _s, bus: _b, paused: _p, created_at: _c, updated_at: _u, url_path: _w, ...spec
              } = s;
              nameIn.value = s.name;
              editor.set(spec);
              mount(view, h('section', { class: 'card' }, h('h2', null, s.name), jsonView(s)));
            },
          }, 'Edit'),
          s.paused ? act(s, 'resume', 'Resume') : act(s, 'pause', 'Pause'), act(s, 'delete', 'Delete', 'small danger')),
      },
    ], items, { testid: 'sources-table', rowTestid: 'source-row', rowKey: (s) => s.name, empty: 'No sources on this bus.' }));
  }

  const save = h('button', { type: 'submit', class: 'primary', testid: 'source-save' }, 'Save source');
  const form = h('form', {
    class: 'card',
    onsubmit: (e) => {
      e.preventDefault();
      busy(save, async () => {
        await put(`${base}/${seg(nameIn.value.trim())}`, editor.get());
        mount(msg, notice('ok', `Source '${nameIn.value.trim()}' saved.`));
        await load();
      }, msg);
    },
  }, h('h2', null, 'Create or update a source'), field('Name', nameIn), editor, h('div', { class: 'actions' }, save));

  root.append(h('div', { class: 'page-head' }, h('h1', null, 'Sources'), await busPicker(ctx, 'sources')), msg, list, view, form);
  await load();
  ctx.every(1000, () => load().catch(() => {}));
}
