// Live tail of a bus: new events as they are committed, at most 500 rows,
// with a pattern or CESQL filter typed in place. The server applies the
// filter (the stream's `pattern` or `cesql` parameter), so a busy bus sends
// only what matches; changing the filter restarts the stream.
//
// API: GET /v1/buses/{bus} (where the log ends); GET
// /v1/buses/{bus}/events?follow=true&after=SEQ[&pattern=P|&cesql=E] as
// Server-Sent Events, read with fetch (EventSource cannot send the token).

import { get, seg, followBus } from '../api.js';
import {
  h, mount, field, time, debounce, parseJson, notice, link,
} from '../lib/dom.js';
import { jsonView } from '../components/json.js';
import { busPicker } from '../components/bus-picker.js';

const MAX_ROWS = 500;

const narrow = (f) => {
  f.classList.add('narrow');
  return f;
};

export async function render(root, ctx) {
  const { bus } = ctx.params;
  const rows = []; // newest first: {event, tr}
  let incoming = [];
  let paused = false;
  let received = 0;
  let scanned = 0;
  let frame = 0;

  const statusEl = h('span', { class: 'stream-state', testid: 'tail-state' }, 'connecting');
  const countsEl = h('span', { class: 'muted', testid: 'tail-counts' });
  const body = h('tbody', { testid: 'tail-rows' });
  const tableEl = h('div', { class: 'table-wrap tail-table' },
    h('table', { class: 'grid' },
      h('thead', null, h('tr', null, ['Seq', 'Received', 'Type', 'Source', 'Id', 'Subject']
        .map((x) => h('th', { scope: 'col' }, x)))),
      body));
  const detail = h('div', { class: 'slot', testid: 'tail-detail' });

  // --- the filter -------------------------------------------------------
  // What the stream runs with now: {} or {pattern: 'json'} or {cesql: '…'}.
  let filter = {};
  const modeSel = h('select', { testid: 'tail-filter-mode' },
    h('option', { value: 'pattern' }, 'Event pattern (JSON)'),
    h('option', { value: 'cesql' }, 'CESQL expression'));
  const exprIn = h('textarea', {
    rows: 2, spellcheck: 'false', testid: 'tail-filter', placeholder: '{"type": ["com.example.order.created"]}',
  });
  const filterMsg = h('div', { class: 'slot', 'aria-live': 'polite', testid: 'tail-filter-status' });

  function counts() {
    const f = filter.pattern || filter.cesql;
    countsEl.textContent = `${received} ${f ? 'matched' : 'received'} · ${rows.length} shown${paused ? ' · paused' : ''}${f && scanned ? ` · looked up to seq ${scanned}` : ''}`;
  }

  // --- rows ---------------------------------------------------------------
  function makeRow(e) {
    const row = { event: e };
    row.tr = h('tr', {
      class: 'clickable', tabindex: '0', testid: 'tail-row', dataset: { id: e.id, seq: String(e.seq) },
      onkeydown: (k) => { if (k.key === 'Enter') row.tr.click(); },
    },
    h('td', { class: 'num', dataset: { label: 'Seq' } }, String(e.seq)),
    h('td', { dataset: { label: 'Received' } }, time(e.received_at)),
    h('td', { dataset: { label: 'Type' } }, e.type),
    h('td', { dataset: { label: 'Source' } }, e.source),
    h('td', { class: 'mono', dataset: { label: 'Id' } }, e.id),
    h('td', { dataset: { label: 'Subject' } }, e.subject || ''));
    row.tr.addEventListener('click', () => {
      for (const r of rows) r.tr.classList.toggle('selected', r === row);
      mount(detail, h('section', { class: 'card' },
        h('div', { class: 'page-head' }, h('h2', null, `Event ${e.id}`),
          link(`${ctx.route('event', bus, e.id)}?source=${encodeURIComponent(e.source)}`, 'Open trace', { testid: 'tail-open-trace', class: 'button' })),
        jsonView(e, 'tail-event-json')));
    });
    return row;
  }

  function flush() {
    frame = 0;
    if (paused || !incoming.length) return;
    const batch = incoming.slice(-MAX_ROWS);
    incoming = [];
    const frag = document.createDocumentFragment();
    const fresh = [];
    for (let i = batch.length - 1; i >= 0; i--) {
      const row = makeRow(batch[i]);
      fresh.push(row);
      frag.appendChild(row.tr);
    }
    body.insertBefore(frag, body.firstChild);
    rows.unshift(...fresh);
    while (rows.length > MAX_ROWS) rows.pop().tr.remove();
    counts();
  }

  function onEvent(e) {
    received++;
    incoming.push(e);
    // A burst larger than the table keeps only what the table can show.
    if (incoming.length > MAX_ROWS * 2) incoming = incoming.slice(-MAX_ROWS);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  // --- page ---------------------------------------------------------------
  const pauseBtn = h('button', {
    type: 'button', testid: 'tail-pause',
    onclick: () => {
      paused = !paused;
      pauseBtn.textContent = paused ? 'Resume' : 'Pause';
      pauseBtn.setAttribute('aria-pressed', String(paused));
      if (!paused && !frame) frame = requestAnimationFrame(flush);
      counts();
    },
  }, 'Pause');
  function clear() {
    rows.length = 0;
    incoming = [];
    received = 0;
    scanned = 0;
    body.replaceChildren();
    detail.replaceChildren();
    counts();
  }
  const clearBtn = h('button', { type: 'button', testid: 'tail-clear', onclick: clear }, 'Clear');
  const backlog = h('select', { testid: 'tail-backlog' },
    [['20', 'the last 20 events'], ['0', 'new events only'], ['100', 'the last 100 events'], ['1000', 'the last 1000 events']]
      .map(([v, t]) => h('option', { value: v }, t)));

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Live tail'), await busPicker(ctx, 'tail')),
    h('div', { class: 'toolbar' }, field('Start with', backlog), pauseBtn, clearBtn, statusEl, countsEl),
    h('section', { class: 'card filter-box' },
      h('div', { class: 'form-row' },
        narrow(field('Filter kind', modeSel)),
        field('Filter', exprIn, 'A pattern such as {"source": ["/shop"]} or a CESQL expression such as type = \'a.b\'; the server keeps only the events it matches.')),
      filterMsg),
    tableEl,
    detail,
  );
  counts();

  let stream = null;
  async function start() {
    if (stream) stream.abort();
    stream = new AbortController();
    const mine = stream;
    ctx.signal.addEventListener('abort', () => mine.abort(), { once: true });
    clear();
    const info = await get(`/v1/buses/${seg(bus)}`, { signal: ctx.signal });
    if (mine.signal.aborted) return;
    const after = Math.max(0, (info.last_seq || 0) - Number(backlog.value));
    followBus(bus, {
      after,
      filter,
      signal: mine.signal,
      onEvent,
      onProgress: (seq) => {
        scanned = seq;
        counts();
      },
      onState: (s, err) => {
        statusEl.textContent = s;
        statusEl.dataset.state = s.split(':')[0];
        if (err && (err.field === 'pattern' || err.field === 'cesql')) {
          mount(filterMsg, notice('error', err.describe(), 'tail-filter-error'));
        }
      },
    });
  }

  const applyFilter = debounce(() => {
    const text = exprIn.value.trim();
    filterMsg.replaceChildren();
    let next = {};
    if (text && modeSel.value === 'pattern') {
      const r = parseJson(text);
      if (r.error) {
        mount(filterMsg, notice('error', `Not valid JSON: ${r.error}`, 'tail-filter-error'));
        return;
      }
      next = { pattern: JSON.stringify(r.value) };
    } else if (text) {
      next = { cesql: text };
    }
    if (JSON.stringify(next) === JSON.stringify(filter)) return;
    filter = next;
    if (text) mount(filterMsg, notice('info', 'Filtering on the server: only matching events are shown.', 'tail-filter-on'));
    start().catch((e) => mount(filterMsg, notice('error', e.describe ? e.describe() : String(e))));
  }, 400);
  exprIn.addEventListener('input', applyFilter);
  modeSel.addEventListener('change', applyFilter);
  backlog.addEventListener('change', () => start());
  await start();
}
