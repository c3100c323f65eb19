// Event search: by id (and source), by position, or by time range and
// filter. Every page is one request the server answers from an index or a
// bounded read (`after` + `limit`; `since`/`before` resolved by the store's
// binary search over receive times; `pattern`/`cesql` applied server-side,
// at most 10 000 events looked at per page), so a bus of millions of events
// costs the same as a small one.
//
// API: GET /v1/buses/{bus}; GET /v1/buses/{bus}/events?after=&limit=
// [&since=&before=][&pattern=|&cesql=].

import { get, seg, query } from '../api.js';
import {
  h, mount, field, busy, time, num, parseJson,
} from '../lib/dom.js';
import { table } from '../components/table.js';
import { busPicker } from '../components/bus-picker.js';

/** A datetime-local value (local time) as RFC 3339 in UTC, or undefined. */
function rfc3339(local) {
  if (!local) return undefined;
  const t = Date.parse(local);
  if (Number.isNaN(t)) throw new Error(`'${local}' is not a date and time`);
  return new Date(t).toISOString();
}

export async function render(root, ctx) {
  const { bus } = ctx.params;
  const msg = h('div', { class: 'slot' });
  const list = h('div', { class: 'slot' });
  // search: the range and filter every page of a search carries;
  // cursors: the `after` of each page visited, for "Previous".
  const state = {
    limit: 50, info: null, page: null, search: {}, cursors: [0],
  };

  async function refreshInfo() {
    state.info = await get(`/v1/buses/${seg(bus)}`, { signal: ctx.signal });
    return state.info;
  }

  function bounds() {
    const last = state.info.last_seq || 0;
    const first = state.info.first_seq || last + 1;
    return { first, last };
  }

  const searching = () => Object.keys(state.search).length > 0;

  /** Reads the page after `after` (with the current search) and shows it. */
  async function show(after, { push = true } = {}) {
    const a = Math.max(0, after);
    const r = await get(`/v1/buses/${seg(bus)}/events${query({ after: a, limit: state.limit, ...state.search })}`, { signal: ctx.signal });
    if (push) state.cursors.push(a);
    state.page = { after: a, ...r };
    draw();
  }

  function draw() {
    const { first, last } = bounds();
    const rows = state.page.events;
    let range = rows.length ? `seq ${rows[0].seq}–${rows[rows.length - 1].seq}` : 'no events here';
    if (searching()) range += ` · looked up to seq ${state.page.next}`;
    mount(list,
      h('p', { class: 'muted', testid: 'events-range' }, `${range} · the bus holds ${first > last ? 'nothing' : `seq ${first}–${last}`} (${num(Math.max(0, last - first + 1))} events)`),
      table([
        { label: 'Seq', class: 'num', render: (e) => String(e.seq) },
        { label: 'Received', render: (e) => time(e.received_at) },
        { label: 'Type', render: (e) => e.type },
        { label: 'Source', render: (e) => e.source },
        { label: 'Id', class: 'mono', render: (e) => h('a', { href: `#${ctx.route('event', bus, e.id)}?source=${encodeURIComponent(e.source)}`, testid: 'event-link' }, e.id) },
        { label: 'Subject', render: (e) => e.subject || '' },
      ], rows, {
        testid: 'events-table', rowTestid: 'event-row', rowKey: (e) => String(e.seq),
        onRowClick: (e) => ctx.navigate(`${ctx.route('event', bus, e.id)}?source=${encodeURIComponent(e.source)}`),
        empty: searching() ? 'No matching events in this stretch of the log.' : 'No events in this range.',
      }));
    pager();
  }

  // --- by id ------------------------------------------------------------------
  const idIn = h('input', { name: 'id', required: true, testid: 'search-id', autocomplete: 'off' });
  const sourceIn = h('input', { name: 'source', testid: 'search-source', autocomplete: 'off' });
  const byId = h('form', {
    class: 'card',
    onsubmit: (e) => {
      e.preventDefault();
      const id = idIn.value.trim();
      if (!id) return;
      const src = sourceIn.value.trim();
      ctx.navigate(`${ctx.route('event', bus, id)}${src ? `?source=${encodeURIComponent(src)}` : ''}`);
    },
  }, h('h2', null, 'Find an event by id'),
  h('div', { class: 'form-row' }, field('Event id', idIn), field('Source (only if several sources used the id)', sourceIn)),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', testid: 'search-id-submit' }, 'Find')));

  const run = (btn, fn) => busy(btn, async () => {
    await refreshInfo();
    await fn();
  }, msg);

  // --- by time range and filter ----------------------------------------------
  const sinceIn = h('input', { type: 'datetime-local', step: '1', name: 'since', testid: 'search-since' });
  const beforeIn = h('input', { type: 'datetime-local', step: '1', name: 'before', testid: 'search-before' });
  const kindSel = h('select', { testid: 'search-filter-kind' },
    h('option', { value: 'pattern' }, 'Event pattern (JSON)'),
    h('option', { value: 'cesql' }, 'CESQL expression'));
  const filterIn = h('input', {
    name: 'filter', testid: 'search-filter', autocomplete: 'off', spellcheck: 'false', placeholder: '{"type": ["com.example.order.created"]}',
  });
  const searchBtn = h('button', { type: 'submit', class: 'primary', testid: 'search-go' }, 'Search');
  const bySearch = h('form', {
    class: 'card',
    onsubmit: (e) => {
      e.preventDefault();
      run(searchBtn, async () => {
        const search = {};
        const since = rfc3339(sinceIn.value);
        const before = rfc3339(beforeIn.value);
        if (since) search.since = since;
        if (before) search.before = before;
        const f = filterIn.value.trim();
        if (f && kindSel.value === 'pattern') {
          const p = parseJson(f);
          if (p.error) throw new Error(`The pattern is not valid JSON: ${p.error}`);
          search.pattern = JSON.stringify(p.value);
        } else if (f) {
          search.cesql = f;
        }
        state.search = search;
        state.cursors = [];
        await show(0);
      });
    },
  }, h('h2', null, 'Search by time and content'),
  h('div', { class: 'form-row' },
    field('Received from (local time)', sinceIn),
    field('Received before', beforeIn),
    field('Filter kind', kindSel),
    field('Filter', filterIn, 'optional; the server applies it')),
  h('div', { class: 'actions' }, searchBtn,
    h('button', {
      type: 'button', testid: 'search-clear',
      onclick: (e) => run(e.currentTarget, async () => {
        state.search = {};
        sinceIn.value = '';
        beforeIn.value = '';
        filterIn.value = '';
        state.cursors = [];
        await show(bounds().last - state.limit);
      }),
    }, 'Clear')));

  // --- by position ----------------------------------------------------------------
  const seqIn = h('input', { type: 'number', min: '1', name: 'seq', testid: 'search-seq' });
  const limitSel = h('select', { testid: 'events-limit' }, [25, 50, 100, 250].map((n) => h('option', { value: n, selected: n === 50 }, String(n))));
  limitSel.addEventListener('change', () => {
    state.limit = Number(limitSel.value);
    run(limitSel, () => show(state.page ? state.page.after : 0, { push: false }));
  });
  const browse = () => {
    state.search = {};
    state.cursors = [];
  };
  const btn = (label, testid, fn, disabled = false) => h('button', {
    type: 'button', testid, disabled, onclick: (e) => run(e.currentTarget, fn),
  }, label);
  const posForm = h('form', { class: 'card', onsubmit: (e) => e.preventDefault() },
    h('h2', null, 'Browse by position'),
    h('div', { class: 'form-row' },
      field('From seq', seqIn),
      h('div', { class: 'field-button' }, btn('Go', 'search-seq-go', () => {
        browse();
        return show(Number(seqIn.value || 1) - 1);
      })),
      field('Page size', limitSel)));

  const pagerSlot = h('div', { class: 'pager' });
  function pager() {
    const p = state.page;
    const moreAfter = p.events.length > 0 || (searching() && p.next > p.after);
    const canGoBack = searching() ? state.cursors.length > 1 : p.after > bounds().first - 1;
    mount(pagerSlot,
      searching() ? null : btn('« Oldest', 'events-oldest', () => show(0)),
      btn('‹ Older', 'events-older', () => {
        if (searching()) {
          state.cursors.pop();
          return show(state.cursors.pop() ?? 0);
        }
        return show(p.after - state.limit);
      }, !canGoBack),
      btn('Newer ›', 'events-newer', () => show(p.next), !moreAfter),
      searching() ? null : btn('Newest »', 'events-newest', () => show(bounds().last - state.limit)));
  }

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Events'), await busPicker(ctx, 'events')),
    byId, bySearch, posForm, msg, pagerSlot, list,
  );
  await refreshInfo();
  await show(bounds().last - state.limit);
}
