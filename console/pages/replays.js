// Replays: send a range of a bus's log through chosen rules again. Start
// one, watch its progress, pause, resume or cancel it.
//
// API: GET /v1/replays; GET /v1/replays/{id} (every second while one runs);
// POST /v1/buses/{bus}/replays {"from", "to"?, "rules", "rate_per_s"?};
// POST /v1/replays/{id}/pause|resume|cancel; GET /v1/buses and
// GET /v1/buses/{bus}/rules (for the form).

import { get, post, seg } from '../api.js';
import {
  h, mount, field, busy, notice, num, time, badge,
} from '../lib/dom.js';
import { table } from '../components/table.js';
import { busNames } from '../components/bus-picker.js';
import { currentBus } from '../session.js';

/** A seq (digits) or a time: RFC 3339 as is, a local date-time made RFC 3339. */
function position(text) {
  const t = text.trim();
  if (!t) return undefined;
  if (/^\d+$/.test(t)) return Number(t);
  if (/[zZ]|[+-]\d\d:\d\d$/.test(t)) return t;
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) throw new Error(`'${t}' is neither a sequence number nor a time`);
  return d.toISOString();
}

function progress(r) {
  const pct = r.total ? Math.min(100, (100 * r.processed) / r.total) : (r.state === 'completed' ? 100 : 0);
  return h('div', { class: 'progress-cell' },
    h('progress', { max: '100', value: String(pct), testid: 'replay-progress', 'aria-label': `replay ${r.id} progress` }),
    h('span', { class: 'muted' }, ` ${num(r.processed)} / ${num(r.total)} (${pct.toFixed(0)}%)`));
}

const ACTIVE = new Set(['running', 'paused']);

export async function render(root, ctx) {
  const msg = h('div', { class: 'slot', testid: 'replay-status' });
  const list = h('div', { class: 'slot' });
  const replays = new Map();

  function draw() {
    const rows = [...replays.values()].sort((a, b) => b.number - a.number);
    mount(list, table([
      { label: 'Replay', render: (r) => h('strong', { testid: 'replay-id' }, r.id) },
      { label: 'Bus', render: (r) => r.bus },
      { label: 'Rules', render: (r) => r.rules.join(', ') },
      { label: 'Range (seq)', render: (r) => `${r.from_seq}–${r.to_seq}` },
      { label: 'State', render: (r) => h('span', { testid: 'replay-state' }, badge(r.state, r.state === 'completed' ? 'ok' : r.state === 'failed' ? 'bad' : r.state === 'running' ? 'info' : 'muted')) },
      { label: 'Progress', render: progress },
      { label: 'Queued', class: 'num', render: (r) => num(r.queued) },
      { label: 'Started', render: (r) => time(r.created_at) },
      {
        label: '',
        render: (r) => h('div', { class: 'row-actions' },
          r.state === 'running' ? control(r, 'pause', 'Pause') : null,
          r.state === 'paused' ? control(r, 'resume', 'Resume') : null,
          ACTIVE.has(r.state) ? control(r, 'cancel', 'Cancel', 'danger') : null,
          r.error ? h('span', { class: 'tl-error' }, r.error) : null),
      },
    ], rows, { testid: 'replays-table', rowTestid: 'replay-row', rowKey: (r) => r.id, empty: 'No replays yet.' }));
  }

  function control(r, action, label, cls = '') {
    return h('button', {
      type: 'button', class: `small ${cls}`, testid: `replay-${action}`,
      onclick: (e) => busy(e.currentTarget, async () => {
        replays.set(r.id, await post(`/v1/replays/${seg(r.id)}/${action}`, undefined, { signal: ctx.signal }));
        draw();
      }, msg),
    }, label);
  }

  async function loadAll() {
    const { replays: all } = await get('/v1/replays', { signal: ctx.signal });
    replays.clear();
    for (const r of all) replays.set(r.id, r);
    draw();
  }

  async function poll() {
    const active = [...replays.values()].filter((r) => ACTIVE.has(r.state));
    for (const r of active) replays.set(r.id, await get(`/v1/replays/${seg(r.id)}`, { signal: ctx.signal }));
    if (active.length) draw();
  }

  // --- start form -------------------------------------------------------------
  const busSel = h('select', { testid: 'replay-bus' });
  const rulesBox = h('fieldset', { class: 'checks', testid: 'replay-rules' }, h('legend', null, 'Rules'));
  const fromIn = h('input', { name: 'from', required: true, testid: 'replay-from', placeholder: '1 or 2024-05-01T10:00:00Z' });
  const toIn = h('input', { name: 'to', testid: 'replay-to', placeholder: 'empty: the newest event' });
  const rateIn = h('input', { name: 'rate', type: 'number', min: '1', testid: 'replay-rate', placeholder: '5000' });
  const start = h('button', { type: 'submit', class: 'primary', testid: 'replay-start' }, 'Start replay');

  async function loadRules() {
    const { rules } = await get(`/v1/buses/${seg(busSel.value)}/rules`, { signal: ctx.signal });
    mount(rulesBox, h('legend', null, 'Rules'),
      rules.length ? rules.map((r) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: r.name, name: 'rule' }), ` ${r.name}`))
        : h('p', { class: 'muted' }, 'This bus has no rules.'));
  }
  busSel.addEventListener('change', () => loadRules().catch((e) => mount(msg, notice('error', e.describe ? e.describe() : String(e)))));

  const form = h('form', {
    class: 'card',
    onsubmit: (e) => {
      e.preventDefault();
      busy(start, async () => {
        const rules = [...rulesBox.querySelectorAll('input:checked')].map((x) => x.value);
        if (!rules.length) throw new Error('Choose at least one rule.');
        const body = { from: position(fromIn.value), rules };
        const to = position(toIn.value);
        if (to !== undefined) body.to = to;
        if (rateIn.value) body.rate_per_s = Number(rateIn.value);
        const r = await post(`/v1/buses/${seg(busSel.value)}/replays`, body, { signal: ctx.signal });
        replays.set(r.id, r);
        draw();
        mount(msg, notice('ok', `Replay ${r.id} started: ${num(r.total)} events.`, 'replay-started'));
      }, msg);
    },
  },
  h('h2', null, 'Start a replay'),
  h('div', { class: 'form-row' },
    field('Bus', busSel),
    field('From', fromIn, 'a sequence number, or a time (events received at or after it)'),
    field('To', toIn, 'inclusive seq, or exclusive time'),
    field('Events per second', rateIn)),
  rulesBox,
  h('div', { class: 'actions' }, start));

  root.append(h('div', { class: 'page-head' }, h('h1', null, 'Replays')), form, msg, list);
  const names = await busNames(ctx.signal);
  mount(busSel, names.map((n) => h('option', { value: n, selected: n === currentBus() }, n)));
  await Promise.all([loadRules(), loadAll()]);
  ctx.every(1000, () => poll().catch(() => {}));
  ctx.every(15000, () => loadAll().catch(() => {}));
}
