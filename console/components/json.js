// JSON: a read-only viewer (collapsible objects and arrays, coloured
// values) and an editor (a textarea that checks its JSON as you type).

import { h, parseJson, debounce } from '../lib/dom.js';

function scalar(v) {
  if (v === null) return h('span', { class: 'j-null' }, 'null');
  switch (typeof v) {
    case 'string': return h('span', { class: 'j-str' }, JSON.stringify(v));
    case 'number': return h('span', { class: 'j-num' }, String(v));
    case 'boolean': return h('span', { class: 'j-bool' }, String(v));
    default: return h('span', null, String(v));
  }
}

function node(v, key, depth) {
  const k = key !== undefined ? [h('span', { class: 'j-key' }, JSON.stringify(key)), ': '] : [];
  if (v === null || typeof v !== 'object') return h('div', { class: 'j-line' }, k, scalar(v));
  const isArr = Array.isArray(v);
  const entries = isArr ? v.map((x, i) => [i, x]) : Object.entries(v);
  const [open, close] = isArr ? ['[', ']'] : ['{', '}'];
  if (!entries.length) return h('div', { class: 'j-line' }, k, `${open}${close}`);
  const details = h('details', { class: 'j-node', open: depth < 3 },
    h('summary', null, k, open, h('span', { class: 'j-count' }, ` ${entries.length} ${isArr ? 'items' : 'keys'} `)),
    h('div', { class: 'j-children' }, entries.map(([ck, cv]) => node(cv, isArr ? undefined : ck, depth + 1))),
    h('div', { class: 'j-line' }, close));
  return details;
}

/** A collapsible view of a JSON value. */
export function jsonView(value, testid) {
  return h('div', { class: 'json-view', testid }, node(value, undefined, 0));
}

/**
 * A JSON editor: a textarea plus a line saying whether the JSON parses.
 * opts: {label, value (any JSON value or text), rows, testid, onChange(value|undefined, text), readonly}
 * The returned element has .get() -> value (throws on bad JSON), .set(v), .text().
 */
export function jsonEditor(opts = {}) {
  const area = h('textarea', {
    class: 'json-edit', rows: opts.rows || 12, spellcheck: 'false', autocapitalize: 'off',
    autocomplete: 'off', testid: opts.testid, readonly: opts.readonly || undefined,
  });
  const status = h('small', { class: 'json-status', 'aria-live': 'polite', testid: opts.testid ? `${opts.testid}-status` : undefined });
  const id = `${opts.testid || 'json'}-${Math.random().toString(36).slice(2, 8)}`;
  area.id = id;
  const wrap = h('div', { class: 'field json-field' },
    opts.label ? h('label', { for: id }, opts.label) : null, area, status);
  const check = () => {
    const text = area.value;
    if (!text.trim() && opts.allowEmpty) {
      status.textContent = '';
      status.className = 'json-status';
      opts.onChange?.(undefined, text);
      return;
    }
    const r = parseJson(text);
    if (r.error) {
      status.textContent = `Not valid JSON: ${r.error}`;
      status.className = 'json-status bad';
      opts.onChange?.(undefined, text);
    } else {
      status.textContent = 'Valid JSON';
      status.className = 'json-status good';
      opts.onChange?.(r.value, text);
    }
  };
  const later = debounce(check, 250);
  area.addEventListener('input', later);
  area.addEventListener('keydown', (e) => {
    // Tab inserts two spaces; Escape then Tab leaves the field (keyboard users).
    if (e.key === 'Tab' && !e.shiftKey && !area.dataset.escaped) {
      e.preventDefault();
      const { selectionStart: a, selectionEnd: b } = area;
      area.setRangeText('  ', a, b, 'end');
      later();
    }
    area.dataset.escaped = e.key === 'Escape' ? '1' : '';
  });
  wrap.set = (v) => {
    area.value = typeof v === 'string' ? v : JSON.stringify(v, null, 2);
    check();
  };
  wrap.get = () => {
    const r = parseJson(area.value);
    if (r.error) throw new Error(`Not valid JSON: ${r.error}`);
    return r.value;
  };
  wrap.text = () => area.value;
  wrap.area = area;
  if (opts.value !== undefined) wrap.set(opts.value);
  return wrap;
}
