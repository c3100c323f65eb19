// A table in a box that scrolls sideways on its own (the page never does).

import { h } from '../lib/dom.js';

/**
 * columns: [{label, render(row) -> Node|string, class}]
 * opts: {testid, rowTestid, rowKey(row), onRowClick(row), empty}
 */
export function table(columns, rows, opts = {}) {
  const head = h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)));
  const body = h('tbody');
  for (const row of rows) body.appendChild(tableRow(columns, row, opts));
  const t = h('table', { class: 'grid' }, h('thead', null, head), body);
  const wrap = h('div', { class: 'table-wrap', testid: opts.testid }, t);
  if (!rows.length) {
    wrap.appendChild(h('p', { class: 'empty', testid: opts.testid ? `${opts.testid}-empty` : undefined }, opts.empty || 'Nothing here yet.'));
  }
  wrap.body = body;
  return wrap;
}

export function tableRow(columns, row, opts = {}) {
  const tr = h('tr', {
    testid: opts.rowTestid,
    dataset: opts.rowKey ? { key: opts.rowKey(row) } : undefined,
    class: opts.onRowClick ? 'clickable' : undefined,
    tabindex: opts.onRowClick ? '0' : undefined,
  }, columns.map((c) => h('td', { class: c.class, dataset: { label: c.label } }, c.render(row))));
  if (opts.onRowClick) {
    tr.addEventListener('click', (e) => {
      if (e.target.closest('a, button, input, select, textarea')) return;
      opts.onRowClick(row, tr);
    });
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target === tr) opts.onRowClick(row, tr);
    });
  }
  return tr;
}
