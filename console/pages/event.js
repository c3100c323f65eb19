// One event: its attributes and data, and its trace as a timeline
// (refreshed every few seconds while deliveries are under way).
//
// API: GET /v1/buses/{bus}/events/{id}[?source=S];
// GET /v1/buses/{bus}/events/{id}/trace[?source=S]; for admins also
// GET /v1/buses/{bus}/rules and, for each rule the trace does not mention,
// POST /v1/test-pattern (a rule that does not match leaves no trace step, so
// "did rule X match?" is answered by testing its pattern now).

const MAX_RULES_TESTED = 50;

import {
  get, post, seg, query, cloudEventOf,
} from '../api.js';
import {
  h, mount, notice, link, badge,
} from '../lib/dom.js';
import { jsonView } from '../components/json.js';
import { timeline } from '../components/timeline.js';
import { session } from '../session.js';

export async function render(root, ctx) {
  const { bus, id } = ctx.params;
  const source = ctx.query.get('source') || '';
  const q = query({ source });
  const base = `/v1/buses/${seg(bus)}/events/${seg(id)}`;
  let event;
  try {
    event = await get(`${base}${q}`, { signal: ctx.signal });
  } catch (e) {
    if (e.status === 409 && e.errors.length) {
      root.append(h('h1', null, `Event ${id}`),
        notice('info', `${e.errors.length} sources used this id; choose one:`),
        h('ul', { testid: 'event-sources' }, e.errors.map((s) => h('li', null,
          link(`${ctx.route('event', bus, id)}?source=${encodeURIComponent(s)}`, s)))));
      return;
    }
    if (e.status === 404) {
      root.append(h('h1', null, `Event ${id}`), notice('error', e.describe(), 'event-not-found'),
        h('p', null, link(ctx.route('events', bus), '← Search events')));
      return;
    }
    throw e;
  }

  const traceSlot = h('div', { class: 'slot', testid: 'trace' });
  const rulesSlot = h('div', { class: 'slot', testid: 'event-rules' });
  let traced = new Map(); // rule -> first step of that rule in the trace
  const stamp = h('span', { class: 'muted' });
  let last = '';
  async function loadTrace() {
    const t = await get(`${base}/trace${query({ source: event.source })}`, { signal: ctx.signal });
    const key = JSON.stringify(t.steps);
    stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
    if (key === last) return;
    last = key;
    const rules = [...new Set(t.steps.map((s) => s.rule).filter(Boolean))];
    traced = new Map();
    for (const s of t.steps) if (s.rule && !traced.has(s.rule)) traced.set(s.rule, s.step);
    mount(traceSlot,
      timeline(t),
      session.admin && rules.length ? h('p', { class: 'muted' }, 'Dead letters of ',
        rules.map((r, i) => [i ? ', ' : '', link(`${ctx.route('dead-letters', bus)}?rule=${encodeURIComponent(r)}`, r)])) : null,
      !session.admin ? h('p', { class: 'muted' }, 'Targets\' answers are shown to admin tokens only.') : null);
  }

  /** Each rule of the bus: what the trace says, or what its pattern says now. */
  async function loadRules() {
    const { rules } = await get(`/v1/buses/${seg(bus)}/rules`, { signal: ctx.signal });
    const rows = [];
    for (const r of rules.slice(0, MAX_RULES_TESTED)) {
      let verdict;
      if (traced.has(r.name)) {
        const step = traced.get(r.name);
        verdict = step === 'matched' || step === 'replayed'
          ? badge('matched', 'ok')
          : badge(step.replace(/_/g, ' '), step.includes('fail') ? 'bad' : 'muted');
      } else if (r.pattern === undefined && !r.cesql) {
        verdict = badge('selects every event (not handled yet)', 'info');
      } else {
        try {
          const body = r.pattern !== undefined ? { pattern: r.pattern, event: cloudEventOf(event) } : { cesql: r.cesql, event: cloudEventOf(event) };
          const m = await post('/v1/test-pattern', body, { signal: ctx.signal });
          verdict = m.matches
            ? badge('matches now, not handled yet (lag, or the rule is newer than the event)', 'warn')
            : badge('no match', 'muted');
        } catch (e) {
          if (e.name === 'AbortError') throw e;
          verdict = badge('cannot test', 'warn');
        }
      }
      rows.push(h('li', { testid: 'event-rule', dataset: { rule: r.name } },
        link(ctx.route('rules', bus, 'edit', r.name), r.name), ' ', verdict));
    }
    mount(rulesSlot, rules.length
      ? h('ul', { class: 'target-stats' }, rows)
      : h('p', { class: 'muted' }, 'This bus has no rules.'),
    rules.length > MAX_RULES_TESTED ? h('p', { class: 'muted' }, `First ${MAX_RULES_TESTED} rules shown.`) : null);
  }

  root.append(
    h('div', { class: 'page-head' },
      h('h1', null, 'Event ', h('span', { class: 'mono', testid: 'event-id' }, event.id)),
      link(ctx.route('events', bus), `← Events of ${bus}`, { class: 'muted' })),
    h('p', { class: 'facts' },
      badge(`seq ${event.seq}`, 'info'), ' ', badge(event.type, 'muted'), ' ',
      h('span', { class: 'muted' }, `source ${event.source} · bus ${bus}`)),
    h('div', { class: 'split' },
      h('section', { class: 'card' },
        h('div', { class: 'page-head' }, h('h2', null, 'Trace'), stamp,
          h('button', { type: 'button', testid: 'trace-refresh', onclick: () => loadTrace().catch(() => {}) }, 'Refresh')),
        traceSlot),
      h('div', { class: 'stack' },
        session.admin ? h('section', { class: 'card' }, h('h2', null, 'Rules of the bus'), rulesSlot) : null,
        h('section', { class: 'card' }, h('h2', null, 'Event'), jsonView(event, 'event-json')))),
  );
  await loadTrace();
  if (session.admin) await loadRules();
  ctx.every(3000, () => loadTrace().catch(() => {}));
}
