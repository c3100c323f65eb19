// Small DOM and formatting helpers shared by every page.

/**
 * Creates an element: h('button', {class: 'x', onclick: f, testid: 'y'}, 'text', child…).
 * `testid` sets data-testid; `dataset` sets data-*; booleans set/omit attributes.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'testid') el.dataset.testid = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'class') el.className = v;
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idCounter = 0;
/** A unique id for label/input pairs. */
export function uid(prefix = 'f') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field: returns the wrapper; the control is `.control`. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  const wrap = h('div', { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('small', { class: 'hint' }, hint) : null);
  wrap.control = control;
  return wrap;
}

/** A message box: kind is 'error' | 'ok' | 'info'. */
export function notice(kind, text, testid) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status', testid }, text);
}

/** Shows an error (an ApiError or anything) in `slot`. */
export function showError(slot, err, testid = 'error') {
  const text = err && err.describe ? err.describe() : String(err && err.message ? err.message : err);
  mount(slot, notice('error', text, testid));
}

/** Runs `fn` with the button disabled, showing errors in `slot`. */
export async function busy(button, fn, slot) {
  button.disabled = true;
  if (slot) slot.replaceChildren();
  try {
    return await fn();
  } catch (e) {
    if (e.name === 'AbortError') return undefined;
    if (slot) showError(slot, e);
    else throw e;
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function debounce(fn, ms) {
  let t;
  const d = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  d.cancel = () => clearTimeout(t);
  return d;
}

const nf = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
export function num(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '—';
  return nf.format(n);
}

export function rate(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '—';
  return `${n >= 100 ? Math.round(n) : nf.format(n)}/s`;
}

export function bytes(n) {
  if (n === undefined || n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export function ms(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  if (v === 0) return '0 ms';
  if (v < 1) return `${(v * 1000).toFixed(0)} µs`;
  if (v < 1000) return `${v.toFixed(v < 10 ? 2 : 0)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}

/** "2024-05-01 12:00:01.123" in local time, for RFC 3339 strings. */
export function time(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** A short label for a long hex string. */
export function short(s, n = 12) {
  if (!s) return '';
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** A status badge. */
export function badge(text, kind = text) {
  return h('span', { class: `badge badge-${String(kind).replace(/[^a-z0-9_-]/gi, '')}` }, text);
}

/** An internal link to a console route. */
export function link(route, text, attrs = {}) {
  return h('a', { href: `#${route}`, ...attrs }, text);
}

/** Parses JSON, returning {value} or {error: 'message at line L, column C'}. */
export function parseJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    const m = /position (\d+)/.exec(e.message);
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      const col = pos - before.lastIndexOf('\n');
      return { error: `${e.message.replace(/ in JSON at position \d+.*$/, '')} at line ${line}, column ${col}` };
    }
    return { error: e.message };
  }
}
