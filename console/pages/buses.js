// Buses: events stored, size, retention, first and last sequence numbers,
// and live rates in and out with a sparkline.
//
// API: GET /v1/buses (the buses the token may read) every 5 s;
// GET /metrics every 5 s for tokens with the metrics scope
// (signalbox_ingest_events_total{outcome="accepted"},
// signalbox_target_delivered_total); without it the rate in is the growth
// of each bus's last_seq between two listings. Admins: PUT and DELETE
// /v1/buses/{bus}.

import { get, put, del, seg } from '../api.js';
import {
  h, mount, field, busy, notice, num, rate, bytes, link,
} from '../lib/dom.js';
import { table } from '../components/table.js';
import { sparkline } from '../components/chart.js';
import { forgetBusNames } from '../components/bus-picker.js';
import { sampler, rateBetween } from '../lib/prom.js';
import { session } from '../session.js';

const POLL_MS = 5000;
const MAX_SAMPLES = 120;

function series(samples, pick) {
  const out = [];
  for (let i = 1; i < samples.length; i++) out.push(rateBetween(samples[i - 1], samples[i], pick));
  return out;
}

export async function render(root, ctx) {
  // samples: [{t, ingestByBus, deliveredByBus?}] from /metrics, or from
  // the listings' last_seq when the token may not read metrics.
  const state = {
    buses: [], samples: [], polled: [], metricsError: null,
  };
  const listSlot = h('div', { class: 'slot' });
  const msg = h('div', { class: 'slot' });

  async function load() {
    state.buses = (await get('/v1/buses', { signal: ctx.signal })).buses;
    if (!session.metrics) {
      const lastSeqByBus = {};
      for (const b of state.buses) lastSeqByBus[b.name] = b.last_seq || 0;
      state.polled.push({ t: Date.now(), ingestByBus: lastSeqByBus });
      if (state.polled.length > MAX_SAMPLES) state.polled.shift();
      state.samples = state.polled;
    }
    draw();
  }

  function draw() {
    const s = state.samples;
    const last2 = (pick) => (s.length > 1 ? rate(rateBetween(s[s.length - 2], s[s.length - 1], pick)) : '—');
    const cols = [
      {
        label: 'Bus',
        render: (b) => h('div', null,
          h('strong', { testid: 'bus-name' }, b.name),
          b.description ? h('div', { class: 'muted' }, b.description) : null),
      },
      { label: 'Events', class: 'num', render: (b) => h('span', { testid: 'bus-events' }, num(b.events ?? 0)) },
      { label: 'First / last seq', class: 'num', render: (b) => `${b.first_seq ?? '—'} / ${b.last_seq ?? 0}` },
      {
        label: 'Stored',
        class: 'num',
        render: (b) => {
          if (b.stored_bytes === null || b.stored_bytes === undefined) return '—';
          if (!b.stored_bytes && b.events) {
            return h('span', { class: 'muted', title: 'the newest events are still in the store\'s memory; they count once it writes them to disk' }, 'in memory');
          }
          return h('span', { title: 'on disk, compressed; the newest events count once the store writes them to disk' }, `≈ ${bytes(b.stored_bytes)}`);
        },
      },
      { label: 'Retention', render: (b) => b.retention },
      { label: 'In', class: 'num', render: (b) => h('span', { testid: 'bus-rate-in' }, last2((x) => x.ingestByBus[b.name] || 0)) },
      {
        label: 'Out',
        class: 'num',
        render: (b) => h('span', { testid: 'bus-rate-out', title: session.metrics ? 'deliveries per second' : 'needs the metrics scope' },
          session.metrics ? last2((x) => (x.deliveredByBus ? x.deliveredByBus[b.name] || 0 : 0)) : '—'),
      },
      {
        label: 'Last minutes',
        render: (b) => sparkline(series(s, (x) => x.ingestByBus[b.name] || 0), { label: `events in per second on ${b.name}`, testid: 'bus-sparkline' }),
      },
      {
        label: '',
        render: (b) => h('div', { class: 'row-actions' },
          link(ctx.route('tail', b.name), 'Tail', { testid: 'bus-tail' }),
          link(ctx.route('events', b.name), 'Events'),
          session.admin ? link(ctx.route('rules', b.name), 'Rules', { testid: 'bus-rules' }) : null,
          session.admin && b.name !== 'default' ? h('button', {
            type: 'button', class: 'danger small', testid: 'bus-delete',
            onclick: (e) => {
              if (!window.confirm(`Delete bus '${b.name}' and all its events and rules?`)) return;
              busy(e.currentTarget, async () => {
                await del(`/v1/buses/${seg(b.name)}`);
                forgetBusNames();
                await load();
              }, msg);
            },
          }, 'Delete') : null),
      },
    ];
    mount(listSlot,
      table(cols, state.buses, {
        testid: 'buses-table', rowTestid: 'bus-row', rowKey: (b) => b.name, empty: 'This token may read no bus.',
      }),
      !session.metrics ? h('p', { class: 'muted' }, 'Rates in are measured from the buses\' sequence numbers; rates out need a token with the metrics scope.') : null,
      state.metricsError ? notice('error', `Metrics: ${state.metricsError.describe ? state.metricsError.describe() : state.metricsError}`) : null);
  }

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Buses'),
      h('button', { type: 'button', onclick: (e) => busy(e.currentTarget, load, msg) }, 'Refresh')),
    msg,
    listSlot,
  );
  if (session.admin) root.appendChild(createForm(load));

  await load();
  if (session.metrics) {
    const off = sampler.subscribe((samples, error) => {
      state.samples = samples;
      state.metricsError = error;
      draw();
    });
    ctx.onLeave(off);
  }
  ctx.every(POLL_MS, () => load().catch(() => {}));
}

function createForm(reload) {
  const name = h('input', {
    name: 'bus', required: true, pattern: '[a-z0-9][a-z0-9._\\-]{0,62}', testid: 'bus-create-name', autocomplete: 'off',
  });
  const description = h('input', { name: 'description', testid: 'bus-create-description' });
  const retention = h('input', { name: 'retention', placeholder: '7d', testid: 'bus-create-retention' });
  const msg = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'bus-create-submit' }, 'Create bus');
  return h('form', {
    class: 'card', testid: 'bus-create-form',
    onsubmit: (e) => {
      e.preventDefault();
      busy(submit, async () => {
        const body = { description: description.value };
        if (retention.value.trim()) body.retention = retention.value.trim();
        await put(`/v1/buses/${seg(name.value.trim())}`, body);
        msg.replaceChildren(notice('ok', `Bus '${name.value.trim()}' saved.`, 'bus-create-ok'));
        forgetBusNames();
        name.value = '';
        description.value = '';
        retention.value = '';
        await reload();
      }, msg);
    },
  },
  h('h2', null, 'Create or update a bus'),
  h('div', { class: 'form-row' },
    field('Name', name, 'a-z, 0-9, . _ - (up to 63)'),
    field('Description', description),
    field('Retention', retention, 'e.g. 3d, 12h; empty: the server default')),
  h('div', { class: 'actions' }, submit),
  msg);
}
