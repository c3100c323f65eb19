// Plugins: every version with its world (kind), contract, size and sha256;
// how each is doing in the rules that use it (calls, failures, degraded);
// upload by drag-and-drop or file picker; try a version on an event.
//
// API: GET /v1/plugins (each version with `used_by`: the rules that use it
// and the plugin's calls and failures there); PUT /v1/plugins/{name}/versions/{version}
// (application/wasm); POST /v1/plugins/{name}/versions/{version}/test;
// DELETE /v1/plugins/{name}/versions/{version}.

import {
  get, post, del, request, seg,
} from '../api.js';
import {
  h, mount, field, busy, notice, bytes, time, short, num, badge,
} from '../lib/dom.js';
import { table } from '../components/table.js';
import { jsonEditor, jsonView } from '../components/json.js';

const SAMPLE_EVENT = {
  specversion: '1.0',
  id: 'try-1',
  source: '/console',
  type: 'com.example.order.created',
  datacontenttype: 'application/json',
  data: { order: 1001, total: 120.5 },
};

function nameFromFile(file) {
  return file.name.replace(/\.wasm$/i, '').toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '')
    .slice(0, 63) || 'plugin';
}

export async function render(root, ctx) {
  const msg = h('div', { class: 'slot' });
  const list = h('div', { class: 'slot' });
  let plugins = [];
  const tryRef = h('select', { testid: 'plugin-try-ref' });

  async function load() {
    plugins = (await get('/v1/plugins', { signal: ctx.signal })).plugins
      .sort((a, b) => a.name.localeCompare(b.name) || a.uploaded_at.localeCompare(b.uploaded_at));
    mount(list, table([
      { label: 'Plugin', render: (p) => h('strong', { testid: 'plugin-name' }, `${p.name}@${p.version}`) },
      { label: 'Kind', render: (p) => h('span', { testid: 'plugin-kind' }, badge(p.kind, 'info')) },
      { label: 'Contract', render: (p) => p.wit || '—' },
      { label: 'Size', class: 'num', render: (p) => bytes(p.size) },
      { label: 'sha256', class: 'mono', render: (p) => h('span', { title: p.sha256 }, short(p.sha256, 16)) },
      { label: 'Uploaded', render: (p) => time(p.uploaded_at) },
      {
        label: 'Used by (calls · failures)',
        render: (p) => {
          const uses = p.used_by || [];
          if (!uses.length) return h('span', { class: 'muted', testid: 'plugin-unused' }, 'no rule');
          return h('ul', { class: 'target-stats', testid: 'plugin-used-by' }, uses.map((u) => h('li', null,
            `${u.bus}/${u.rule} (${u.step}): ${num(u.status.calls)} · ${num(u.status.failures)}`,
            u.status.degraded ? [' ', badge('degraded', 'bad')] : null)));
        },
      },
      {
        label: '',
        render: (p) => h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'small', onclick: () => { tryRef.value = `${p.name}@${p.version}`; tryBox.scrollIntoView({ behavior: 'smooth' }); } }, 'Try'),
          h('button', {
            type: 'button', class: 'danger small', testid: 'plugin-delete',
            onclick: (e) => {
              if (!window.confirm(`Delete ${p.name}@${p.version}?`)) return;
              busy(e.currentTarget, async () => {
                await del(`/v1/plugins/${seg(p.name)}/versions/${seg(p.version)}`);
                await load();
              }, msg);
            },
          }, 'Delete')),
      },
    ], plugins, { testid: 'plugins-table', rowTestid: 'plugin-row', rowKey: (p) => `${p.name}@${p.version}`, empty: 'No plugins uploaded yet.' }));
    const keep = tryRef.value;
    mount(tryRef, plugins.map((p) => h('option', { value: `${p.name}@${p.version}` }, `${p.name}@${p.version} (${p.kind})`)));
    if (keep) tryRef.value = keep;
  }

  // --- upload -----------------------------------------------------------------
  let file = null;
  const fileIn = h('input', { type: 'file', accept: '.wasm,application/wasm', testid: 'plugin-file' });
  const nameIn = h('input', { name: 'name', required: true, testid: 'plugin-upload-name', autocomplete: 'off' });
  const versionIn = h('input', { name: 'version', required: true, testid: 'plugin-upload-version', placeholder: '1.0.0', autocomplete: 'off' });
  const chosen = h('span', { class: 'muted', testid: 'plugin-chosen' }, 'No file chosen.');
  const upMsg = h('div', { class: 'slot', testid: 'plugin-upload-status' });
  const choose = (f) => {
    if (!f) return;
    file = f;
    chosen.textContent = `${f.name} (${bytes(f.size)})`;
    if (!nameIn.value) nameIn.value = nameFromFile(f);
    if (!versionIn.value) versionIn.value = '1.0.0';
  };
  fileIn.addEventListener('change', () => choose(fileIn.files[0]));
  const drop = h('div', {
    class: 'dropzone', testid: 'plugin-drop', tabindex: '0', role: 'button',
    'aria-label': 'Drop a .wasm file here, or press Enter to choose one',
    onclick: () => fileIn.click(),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileIn.click(); } },
    ondragover: (e) => { e.preventDefault(); drop.classList.add('over'); },
    ondragleave: () => drop.classList.remove('over'),
    ondrop: (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      choose(e.dataTransfer.files[0]);
    },
  }, h('strong', null, 'Drop a .wasm component here'), h('span', null, ' or click to choose a file'));
  const upload = h('button', { type: 'submit', class: 'primary', testid: 'plugin-upload' }, 'Upload');
  const uploadForm = h('form', {
    class: 'card', testid: 'plugin-upload-form',
    onsubmit: (e) => {
      e.preventDefault();
      busy(upload, async () => {
        if (!file) throw new Error('Choose or drop a .wasm file first.');
        const info = await request('PUT', `/v1/plugins/${seg(nameIn.value.trim())}/versions/${seg(versionIn.value.trim())}`, {
          body: await file.arrayBuffer(), headers: { 'Content-Type': 'application/wasm' }, signal: ctx.signal,
        });
        mount(upMsg, notice('ok', `Uploaded ${info.name}@${info.version}: a ${info.kind}, ${bytes(info.size)}, sha256 ${short(info.sha256, 16)}.`, 'plugin-uploaded'));
        await load();
        tryRef.value = `${info.name}@${info.version}`;
      }, upMsg);
    },
  },
  h('h2', null, 'Upload a version'),
  drop, h('div', { class: 'visually-hidden-file' }, field('Component file', fileIn)), chosen,
  h('div', { class: 'form-row' }, field('Name', nameIn, 'a-z, 0-9, . _ -'), field('Version', versionIn, 'versions are immutable')),
  h('div', { class: 'actions' }, upload),
  upMsg);

  // --- try it -------------------------------------------------------------------
  const eventEd = jsonEditor({ label: 'Event', rows: 10, testid: 'plugin-try-event', value: SAMPLE_EVENT });
  const configEd = jsonEditor({ label: 'Configuration (JSON object)', rows: 3, testid: 'plugin-try-config', value: {} });
  const tryOut = h('div', { class: 'slot', testid: 'plugin-try-result' });
  const tryBtn = h('button', { type: 'submit', class: 'primary', testid: 'plugin-try' }, 'Run');
  const tryBox = h('form', {
    class: 'card',
    onsubmit: (e) => {
      e.preventDefault();
      busy(tryBtn, async () => {
        const ref = tryRef.value;
        if (!ref) throw new Error('Upload a plugin first.');
        const [name, version] = ref.split('@');
        const r = await post(`/v1/plugins/${seg(name)}/versions/${seg(version)}/test`, {
          event: eventEd.get(), config: configEd.get(),
        }, { signal: ctx.signal });
        const kind = r.outcome === 'error' ? 'bad' : r.outcome === 'drop' ? 'muted' : 'ok';
        mount(tryOut, h('p', null, h('span', { testid: 'plugin-try-outcome' }, badge(r.outcome, kind)), ` in ${r.duration_ms.toFixed(2)} ms`),
          r.error ? h('p', { class: 'tl-error' }, `${r.error.kind}: ${r.error.message}`) : null,
          jsonView(r));
      }, tryOut);
    },
  },
  h('h2', null, 'Try a plugin'),
  h('p', { class: 'muted' }, 'Runs the plugin once in a fresh sandbox with this event: a filter keeps or drops it, a transform shows what it makes.'),
  field('Plugin', tryRef), eventEd, configEd,
  h('div', { class: 'actions' }, tryBtn), tryOut);

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Plugins'),
      h('button', { type: 'button', testid: 'plugins-refresh', onclick: (e) => busy(e.currentTarget, load, msg) }, 'Refresh')),
    msg, list, h('div', { class: 'split' }, uploadForm, tryBox),
  );
  await load();
}
