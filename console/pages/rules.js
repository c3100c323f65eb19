// Rules of a bus: state, lag, and per target the queue, deliveries, failed
// attempts and dead letters. Refreshed every 5 s.
//
// API: GET /v1/buses/{bus}/rules; DELETE /v1/buses/{bus}/rules/{rule}.

import { get, del, seg } from '../api.js';
import {
  h, mount, busy, badge, num, link, short,
} from '../lib/dom.js';
import { table } from '../components/table.js';
import { busPicker } from '../components/bus-picker.js';

function selector(r) {
  if (r.pattern !== undefined) return h('code', { class: 'snippet', title: JSON.stringify(r.pattern) }, short(JSON.stringify(r.pattern), 60));
  if (r.cesql) return h('code', { class: 'snippet', title: r.cesql }, short(r.cesql, 60));
  return h('span', { class: 'muted' }, 'every event');
}

export async function render(root, ctx) {
  const { bus } = ctx.params;
  const msg = h('div', { class: 'slot' });
  const list = h('div', { class: 'slot' });
  const dlq = (rule, target) => `${ctx.route('dead-letters', bus)}?rule=${encodeURIComponent(rule)}${target ? `&target=${encodeURIComponent(target)}` : ''}`;

  async function load() {
    const { rules } = await get(`/v1/buses/${seg(bus)}/rules`, { signal: ctx.signal });
    mount(list, table([
      { label: 'Rule', render: (r) => h('div', null, link(ctx.route('rules', bus, 'edit', r.name), r.name, { testid: 'rule-name' }), r.description ? h('div', { class: 'muted' }, r.description) : null) },
      { label: 'State', render: (r) => h('span', { testid: 'rule-state' }, badge(r.status.state, r.status.state === 'running' ? 'ok' : r.status.state === 'degraded' ? 'bad' : 'muted')) },
      { label: 'Selects', render: selector },
      { label: 'Lag', class: 'num', render: (r) => h('span', { testid: 'rule-lag' }, num(r.status.lag)) },
      {
        label: 'Targets: queued · delivered · failed attempts · dead letters',
        render: (r) => h('ul', { class: 'target-stats' }, r.status.targets.map((t) => h('li', { testid: 'rule-target', dataset: { target: t.id } },
          h('strong', null, t.id), h('span', { class: 'muted' }, ` ${t.type} `),
          h('span', { title: 'queued', testid: 'target-queued' }, num(t.queued)), ' · ',
          h('span', { title: 'delivered', testid: 'target-delivered' }, num(t.delivered)), ' · ',
          h('span', { title: 'failed attempts' }, num(t.failed_attempts)), ' · ',
          t.dead_letters
            ? link(dlq(r.name, t.id), `${num(t.dead_letters)} dead`, { class: 'dead', testid: 'target-dead-letters' })
            : h('span', { testid: 'target-dead-letters' }, '0 dead'),
          t.plugin && t.plugin.degraded ? [' ', badge('plugin degraded', 'bad')] : null))),
      },
      {
        label: '',
        render: (r) => h('div', { class: 'row-actions' },
          link(ctx.route('rules', bus, 'edit', r.name), 'Edit', { testid: 'rule-edit' }),
          link(dlq(r.name), 'Dead letters', { testid: 'rule-dead-letters' }),
          h('button', {
            type: 'button', class: 'danger small', testid: 'rule-delete',
            onclick: (e) => {
              if (!window.confirm(`Delete rule '${r.name}' with its queues and dead letters?`)) return;
              busy(e.currentTarget, async () => {
                await del(`/v1/buses/${seg(bus)}/rules/${seg(r.name)}`);
                await load();
              }, msg);
            },
          }, 'Delete')),
      },
    ], rules, { testid: 'rules-table', rowTestid: 'rule-row', rowKey: (r) => r.name, empty: 'No rules on this bus yet.' }));
  }

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Rules'), await busPicker(ctx, 'rules'),
      h('a', { class: 'button primary', href: `#${ctx.route('rules', bus, 'new')}`, testid: 'rule-new' }, 'New rule')),
    msg, list);
  await load();
  ctx.every(5000, () => load().catch(() => {}));
}
