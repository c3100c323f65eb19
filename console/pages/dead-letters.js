// Dead letters of a rule: a page at a time (the server's `next` cursor),
// each letter inspectable, redrive all or one target's, purge.
//
// API: GET /v1/buses/{bus}/rules (the rules and their per-target counts);
// GET /v1/buses/{bus}/rules/{rule}/dead-letters?target=&limit=&after=
//   -> {"dead_letters", "total", "next"};
// POST …/dead-letters/redrive {"target"?} -> {"redriven", "skipped"};
// DELETE …/dead-letters[?target=] -> {"purged"}.

import {
  get, post, del, seg, query,
} from '../api.js';
import {
  h, mount, field, busy, notice, num, time, badge, link,
} from '../lib/dom.js';
import { table } from '../components/table.js';
import { jsonView } from '../components/json.js';
import { busPicker } from '../components/bus-picker.js';

const PAGE = 50;

export async function render(root, ctx) {
  const { bus } = ctx.params;
  const msg = h('div', { class: 'slot', testid: 'dlq-status' });
  const list = h('div', { class: 'slot' });
  const inspect = h('div', { class: 'slot', testid: 'dlq-inspect' });
  const summary = h('div', { class: 'slot' });
  const { rules } = await get(`/v1/buses/${seg(bus)}/rules`, { signal: ctx.signal });
  const head = h('div', { class: 'page-head' }, h('h1', null, 'Dead letters'), await busPicker(ctx, 'dead-letters'));
  if (!rules.length) {
    root.append(head, notice('info', 'This bus has no rules, so no dead letters.'),
      link(ctx.route('rules', bus, 'new'), 'Create a rule'));
    return;
  }
  const deadOf = (r) => r.status.targets.reduce((n, t) => n + (t.dead_letters || 0), 0);
  const wanted = ctx.query.get('rule');
  const rule = rules.find((r) => r.name === wanted) || rules.find((r) => deadOf(r) > 0) || rules[0];
  const state = {
    rule: rule.name, target: ctx.query.get('target') || '', cursors: [null], page: null,
  };

  const ruleSel = h('select', { testid: 'dlq-rule' }, rules.map((r) => h('option', { value: r.name, selected: r.name === state.rule }, `${r.name} (${num(deadOf(r))})`)));
  const targetSel = h('select', { testid: 'dlq-target' });
  const base = () => `/v1/buses/${seg(bus)}/rules/${seg(state.rule)}/dead-letters`;

  function drawTargets(r) {
    mount(targetSel,
      h('option', { value: '' }, 'All targets'),
      r.status.targets.map((t) => h('option', { value: t.id, selected: t.id === state.target }, `${t.id} (${num(t.dead_letters)})`)));
    if (!r.status.targets.some((t) => t.id === state.target)) state.target = '';
    targetSel.value = state.target;
  }

  async function refreshCounts() {
    const r = await get(`/v1/buses/${seg(bus)}/rules/${seg(state.rule)}`, { signal: ctx.signal });
    mount(summary, h('ul', { class: 'target-stats' }, r.status.targets.map((t) => h('li', { testid: 'dlq-target-count', dataset: { target: t.id } },
      h('strong', null, t.id), ` ${num(t.dead_letters)} dead letters · ${num(t.queued)} queued · ${num(t.delivered)} delivered`,
      ' ', h('button', {
        type: 'button', class: 'small', testid: 'dlq-redrive-target', dataset: { target: t.id }, disabled: !t.dead_letters,
        onclick: (e) => redrive(e.currentTarget, t.id),
      }, `Redrive ${t.id}`)))));
    return r;
  }

  async function loadPage() {
    const after = state.cursors[state.cursors.length - 1];
    const page = await get(`${base()}${query({ target: state.target, limit: PAGE, after })}`, { signal: ctx.signal });
    state.page = page;
    const from = (state.cursors.length - 1) * PAGE;
    mount(list,
      h('p', { class: 'muted', testid: 'dlq-total' }, `${num(page.total)} dead letters${state.target ? ` for ${state.target}` : ''}; showing ${page.dead_letters.length ? `${from + 1}–${from + page.dead_letters.length}` : 'none'}`),
      table([
        { label: 'Target', render: (d) => d.target },
        { label: 'Seq', class: 'num', render: (d) => (d.sub ? `${d.seq}.${d.sub}` : String(d.seq)) },
        { label: 'Event', render: (d) => (d.event ? h('span', null, h('span', { class: 'mono' }, d.event.id), h('div', { class: 'muted' }, d.event.type)) : '—') },
        { label: 'Attempts', class: 'num', render: (d) => String(d.attempts ?? '—') },
        { label: 'Last status', render: (d) => (d.last_status ? h('span', { class: `http-status s${String(d.last_status)[0]}xx` }, String(d.last_status)) : '—') },
        { label: 'Reason', render: (d) => (d.unreadable ? badge('unreadable', 'bad') : badge(d.reason, 'warn')) },
        { label: 'Dead since', render: (d) => time(d.dead_at) },
      ], page.dead_letters, {
        testid: 'dlq-table', rowTestid: 'dlq-row', rowKey: (d) => `${d.target}/${d.seq}/${d.sub}`,
        empty: 'No dead letters.',
        onRowClick: (d, tr) => {
          list.querySelectorAll('tr.selected').forEach((x) => x.classList.remove('selected'));
          tr.classList.add('selected');
          mount(inspect, h('section', { class: 'card' },
            h('div', { class: 'page-head' }, h('h2', null, `Dead letter ${d.target} · seq ${d.seq}`),
              d.event ? link(`${ctx.route('event', bus, d.event.id)}?source=${encodeURIComponent(d.event.source)}`, 'Open trace', { class: 'button', testid: 'dlq-open-trace' }) : null),
            d.last_error ? h('p', { class: 'tl-error' }, d.last_error) : null,
            jsonView(d, 'dlq-json')));
        },
      }),
      h('div', { class: 'pager' },
        h('button', {
          type: 'button', testid: 'dlq-first', disabled: state.cursors.length === 1,
          onclick: (e) => busy(e.currentTarget, () => { state.cursors = [null]; return loadPage(); }, msg),
        }, '« First'),
        h('button', {
          type: 'button', testid: 'dlq-prev', disabled: state.cursors.length === 1,
          onclick: (e) => busy(e.currentTarget, () => { state.cursors.pop(); return loadPage(); }, msg),
        }, '‹ Previous'),
        h('button', {
          type: 'button', testid: 'dlq-next', disabled: !page.next,
          onclick: (e) => busy(e.currentTarget, () => { state.cursors.push(page.next); return loadPage(); }, msg),
        }, 'Next ›')));
  }

  async function reload() {
    state.cursors = [null];
    inspect.replaceChildren();
    const r = await refreshCounts();
    drawTargets(r);
    await loadPage();
  }

  function redrive(button, target) {
    const what = target ? `target '${target}'` : 'every target';
    return busy(button, async () => {
      const r = await post(`${base()}/redrive`, target ? { target } : {}, { signal: ctx.signal });
      await reload();
      mount(msg, notice('ok', `Redrove ${num(r.redriven)} dead letters of ${what}${r.skipped ? ` (${num(r.skipped)} unreadable, skipped)` : ''}; they are queued for delivery again.`, 'dlq-redriven'));
    }, msg);
  }

  ruleSel.addEventListener('change', () => {
    state.rule = ruleSel.value;
    state.target = '';
    busy(ruleSel, reload, msg);
  });
  targetSel.addEventListener('change', () => {
    state.target = targetSel.value;
    state.cursors = [null];
    busy(targetSel, loadPage, msg);
  });

  const redriveBtn = h('button', {
    type: 'button', class: 'primary', testid: 'dlq-redrive',
    onclick: (e) => redrive(e.currentTarget, state.target),
  }, 'Redrive');
  const purgeBtn = h('button', {
    type: 'button', class: 'danger', testid: 'dlq-purge',
    onclick: (e) => {
      const what = state.target ? `target '${state.target}'` : 'every target';
      if (!window.confirm(`Delete the dead letters of ${what} of rule '${state.rule}' for good?`)) return;
      busy(e.currentTarget, async () => {
        const r = await del(`${base()}${query({ target: state.target })}`, { signal: ctx.signal });
        await reload();
        mount(msg, notice('ok', `Purged ${num(r.purged)} dead letters.`, 'dlq-purged'));
      }, msg);
    },
  }, 'Purge');
  const refreshBtn = h('button', { type: 'button', testid: 'dlq-refresh', onclick: (e) => busy(e.currentTarget, reload, msg) }, 'Refresh');

  root.append(head,
    h('div', { class: 'toolbar' }, field('Rule', ruleSel), field('Target', targetSel), redriveBtn, purgeBtn, refreshBtn),
    h('p', { class: 'muted' }, 'Redrive puts the shown target\'s (or every target\'s) dead letters back in the delivery queue; purge deletes them.'),
    summary, msg, list, inspect);
  await reload();
}
