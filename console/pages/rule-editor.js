// Create or edit a rule: its JSON in an editor, and a pattern tester that
// tries the rule's pattern (or CESQL expression) against a sample event or
// the bus's latest event as you type, showing what the server says is wrong.
//
// API: GET /v1/buses/{bus}/rules/{rule}; PUT /v1/buses/{bus}/rules/{rule};
// POST /v1/test-pattern (debounced); GET /v1/buses/{bus} and
// GET /v1/buses/{bus}/events?after=SEQ&limit=1 (the latest event).

import {
  get, put, post, seg, query, cloudEventOf,
} from '../api.js';
import {
  h, mount, field, busy, notice, debounce, link, badge,
} from '../lib/dom.js';
import { jsonEditor } from '../components/json.js';

const SAMPLE_EVENT = {
  specversion: '1.0',
  id: 'sample-1',
  source: '/shop/eu',
  type: 'com.example.order.created',
  time: '2024-01-01T12:00:00Z',
  datacontenttype: 'application/json',
  data: { order: 1001, total: 120.5 },
};

const NEW_RULE = {
  description: '',
  enabled: true,
  pattern: { type: ['com.example.order.created'] },
  targets: [
    { id: 'webhook', type: 'http', url: 'http://127.0.0.1:9000/hook', retry: { max_attempts: 3 } },
  ],
};

/** What GET answers beyond the spec PUT accepts. */
function specOf(rule) {
  const {
    name: _n, bus: _b, created_at: _c, updated_at: _u, status: _s, ...spec
  } = rule;
  return spec;
}

export async function render(root, ctx) {
  const { bus } = ctx.params;
  const editing = ctx.params.rule;
  const nameIn = h('input', {
    name: 'rule', required: true, testid: 'rule-name-input', autocomplete: 'off', value: editing || '', disabled: Boolean(editing),
  });
  const msg = h('div', { class: 'slot', testid: 'rule-save-status' });
  const result = h('div', { class: 'pattern-result', testid: 'pattern-result', 'aria-live': 'polite' });
  let version = 0;

  const test = debounce(async () => {
    const v = ++version;
    let rule;
    let event;
    try {
      rule = editor.get();
    } catch (e) {
      mount(result, badge('rule is not valid JSON', 'warn'), h('p', null, e.message));
      result.dataset.result = 'invalid-json';
      return;
    }
    try {
      event = sample.get();
    } catch (e) {
      mount(result, badge('sample is not valid JSON', 'warn'), h('p', null, e.message));
      result.dataset.result = 'invalid-json';
      return;
    }
    if (!rule || typeof rule !== 'object' || (rule.pattern === undefined && !rule.cesql)) {
      mount(result, badge('no pattern', 'info'), h('p', null, 'The rule has no "pattern" or "cesql": it selects every event.'));
      result.dataset.result = 'match';
      return;
    }
    const body = rule.pattern !== undefined ? { pattern: rule.pattern, event } : { cesql: rule.cesql, event };
    mount(result, badge('testing…', 'info'));
    try {
      const r = await post('/v1/test-pattern', body, { signal: ctx.signal });
      if (v !== version) return;
      result.dataset.result = r.matches ? 'match' : 'no-match';
      mount(result,
        r.matches ? badge('Match', 'ok') : badge('No match', 'muted'),
        h('p', null, r.matches ? 'The sample event matches.' : 'The sample event does not match.'),
        rule.pattern !== undefined && rule.cesql ? h('p', { class: 'muted' }, 'Tested the pattern only; the rule\'s CESQL expression must hold too.') : null,
        r.errors && r.errors.length ? h('ul', null, r.errors.map((x) => h('li', null, x.message))) : null);
    } catch (e) {
      if (e.name === 'AbortError' || v !== version) return;
      result.dataset.result = 'error';
      const where = e.errors.find((x) => x && x.path) || null;
      mount(result,
        badge(e.title || 'Error', 'bad'),
        h('p', { testid: 'pattern-error' }, e.detail || e.message),
        e.field ? h('p', { class: 'muted' }, `field: ${e.field}`) : null,
        where ? h('p', { class: 'muted' }, `at ${where.path}${where.operator ? ` (operator ${where.operator})` : ''}`) : null);
    }
  }, 300);

  const editor = jsonEditor({ label: 'Rule (JSON)', rows: 18, testid: 'rule-json', onChange: () => test() });
  const sample = jsonEditor({ label: 'Sample event (CloudEvent, structured JSON)', rows: 12, testid: 'sample-json', onChange: () => test() });

  const latestBtn = h('button', {
    type: 'button', testid: 'sample-latest',
    onclick: (e) => busy(e.currentTarget, async () => {
      const info = await get(`/v1/buses/${seg(bus)}`, { signal: ctx.signal });
      if (!info.last_seq) throw new Error('The bus has no events yet.');
      const { events } = await get(`/v1/buses/${seg(bus)}/events${query({ after: info.last_seq - 1, limit: 1 })}`, { signal: ctx.signal });
      if (!events.length) throw new Error('The latest event has expired.');
      sample.set(cloudEventOf(events[0]));
    }, result),
  }, 'Use the latest event of the bus');
  const sampleBtn = h('button', { type: 'button', testid: 'sample-default', onclick: () => sample.set(SAMPLE_EVENT) }, 'Use a sample event');

  const save = h('button', { type: 'submit', class: 'primary', testid: 'rule-save' }, editing ? 'Save rule' : 'Create rule');
  const form = h('form', {
    class: 'card',
    onsubmit: (e) => {
      e.preventDefault();
      busy(save, async () => {
        const name = nameIn.value.trim();
        if (!name) throw new Error('Give the rule a name.');
        const spec = editor.get();
        const saved = await put(`/v1/buses/${seg(bus)}/rules/${seg(name)}`, spec, { signal: ctx.signal });
        if (!editing) {
          ctx.navigate(`${ctx.route('rules', bus, 'edit', name)}?created=1`);
          return;
        }
        mount(msg, notice('ok', `Rule '${saved.name}' saved (${saved.status.state}).`, 'rule-saved'));
      }, msg);
    },
  },
  field('Name', nameIn, 'Unique on the bus.'),
  editor,
  h('details', { class: 'help' }, h('summary', null, 'What a rule holds'),
    h('ul', null,
      h('li', null, h('code', null, 'pattern'), ': an EventBridge pattern over the CloudEvent (attributes at the top, JSON data under "data"); or ', h('code', null, 'cesql'), ': a CloudEvents SQL expression.'),
      h('li', null, h('code', null, 'filters'), ': [{"plugin": "name@version", "config": {…}}]; ', h('code', null, 'transform'), ': {"plugin", "config"} or {"paths", "template"}.'),
      h('li', null, h('code', null, 'targets'), ': [{"id", "type": "http"|"bus"|"log"|"plugin", "url", "retry": {"max_attempts": 3}, "dead_letter": true}].'))),
  h('div', { class: 'actions' }, save, link(ctx.route('rules', bus), 'Back to rules')),
  msg);

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, editing ? `Rule ${editing}` : 'New rule', h('span', { class: 'muted' }, ` on ${bus}`))),
    h('div', { class: 'split' },
      form,
      h('section', { class: 'card tester', testid: 'pattern-tester' },
        h('h2', null, 'Pattern tester'),
        h('p', { class: 'muted' }, 'Tries the rule\'s pattern on the event below as you type.'),
        result,
        h('div', { class: 'actions' }, sampleBtn, latestBtn),
        sample)),
  );

  if (editing) {
    const rule = await get(`/v1/buses/${seg(bus)}/rules/${seg(editing)}`, { signal: ctx.signal });
    editor.set(specOf(rule));
    if (ctx.query.get('created')) mount(msg, notice('ok', `Rule '${rule.name}' created (${rule.status.state}).`, 'rule-saved'));
  } else {
    editor.set(NEW_RULE);
  }
  sample.set(SAMPLE_EVENT);
  test();
}
