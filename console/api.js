// The API client: every call the console makes to the server goes through
// here. The server is the page's own origin; the token lives in
// sessionStorage (gone when the tab closes). Errors are RFC 9457 problem
// documents, surfaced as ApiError with their `detail` and `field`.

const TOKEN_KEY = 'signalbox.token';

export const base = window.location.origin;

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answer from the server (or the network), as a problem. */
export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem || {};
    super(p.detail || p.title || `HTTP ${status}`);
    this.status = status;
    this.title = p.title || (status ? `HTTP ${status}` : 'Network error');
    this.detail = p.detail || '';
    this.field = p.field || '';
    this.errors = Array.isArray(p.errors) ? p.errors : [];
    this.type = p.type || '';
  }

  /** One line for people: "Invalid rule: targets[0].url: … (field: targets[0].url)". */
  describe() {
    let s = this.detail ? `${this.title}: ${this.detail}` : this.title;
    if (this.field && !s.includes(this.field)) s += ` (field: ${this.field})`;
    return s;
  }
}

function headers(extra, token) {
  const h = new Headers(extra || {});
  const t = token === undefined ? getToken() : token;
  if (t) h.set('Authorization', `Bearer ${t}`);
  return h;
}

async function problemOf(res) {
  const text = await res.text().catch(() => '');
  try {
    const doc = JSON.parse(text);
    if (doc && typeof doc === 'object') return doc;
  } catch {
    // not JSON: fall through
  }
  return { title: `HTTP ${res.status}`, detail: text.slice(0, 300) };
}

/**
 * Calls the API. `opts`: { json, body, headers, signal, token, raw }.
 * Returns the parsed JSON body (or null for 204), the Response with `raw`.
 */
export async function request(method, path, opts = {}) {
  const init = { method, headers: headers(opts.headers, opts.token), signal: opts.signal };
  if (opts.json !== undefined) {
    init.body = JSON.stringify(opts.json);
    init.headers.set('Content-Type', 'application/json');
  } else if (opts.body !== undefined) {
    init.body = opts.body;
  }
  let res;
  try {
    res = await fetch(base + path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, { title: 'Network error', detail: `cannot reach the server: ${e.message}` });
  }
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  if (opts.raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) return res.json();
  return res.text();
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, json, opts = {}) => request('POST', path, { ...opts, json });
export const put = (path, json, opts = {}) => request('PUT', path, { ...opts, json });
export const del = (path, opts) => request('DELETE', path, opts);

/** Percent-encodes one path segment. */
export const seg = encodeURIComponent;

/** A query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** GET /metrics as text (Prometheus exposition format). */
export function metricsText(opts) {
  return request('GET', '/metrics', opts);
}

/**
 * Parses a `text/event-stream` byte stream (a ReadableStream reader) and
 * calls `onMessage({id, event, data})` per message. Resolves when the stream
 * ends. EventSource cannot send an Authorization header, hence this.
 */
export async function readEventStream(reader, onMessage) {
  const decoder = new TextDecoder();
  let buf = '';
  let data = [];
  let event = '';
  let id = null;
  const dispatch = () => {
    if (data.length) onMessage({ id, event: event || 'message', data: data.join('\n') });
    data = [];
    event = '';
  };
  const line = (l) => {
    if (l === '') return dispatch();
    if (l.startsWith(':')) return undefined; // comment / keep-alive
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
    return undefined;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      if (c === '\n' || c === '\r') {
        // A lone \r at the end may be the first half of \r\n: wait for more.
        if (c === '\r' && i === buf.length - 1) break;
        line(buf.slice(start, i));
        if (c === '\r' && buf[i + 1] === '\n') i++;
        start = i + 1;
      }
    }
    buf = buf.slice(start);
  }
}

/**
 * Follows a bus: streams events after `after` and keeps following,
 * reconnecting after the last seq seen until `signal` aborts. `filter`
 * ({pattern} with a JSON string, or {cesql}) is applied by the server, so
 * only matching events cross the network.
 * `onEvent(event)` gets each stored event (with `seq`); `onState(s, err)`
 * gets 'connecting' | 'live' | 'retrying: …' | 'stopped: …' (with the
 * ApiError when the server refused the stream, e.g. a bad filter: 400);
 * `onProgress(seq)` how far the server has looked.
 */
export async function followBus(bus, {
  after = 0, filter = {}, signal, onEvent, onState = () => {}, onProgress = () => {},
}) {
  let last = after;
  while (!signal.aborted) {
    onState('connecting');
    let wait = 2000;
    try {
      const res = await request('GET', `/v1/buses/${seg(bus)}/events${query({ follow: 'true', after: last, ...filter })}`, {
        signal,
        raw: true,
        headers: { Accept: 'text/event-stream' },
      });
      onState('live');
      await readEventStream(res.body.getReader(), (m) => {
        if (m.event === 'error') {
          onState(`server error: ${m.data}`);
          return;
        }
        if (m.event === 'progress') {
          const seq = Number(m.id);
          if (Number.isFinite(seq)) {
            last = Math.max(last, seq);
            onProgress(last);
          }
          return;
        }
        if (m.event !== 'cloudevent') return;
        let e;
        try {
          e = JSON.parse(m.data);
        } catch {
          return;
        }
        if (typeof e.seq === 'number') last = Math.max(last, e.seq);
        onEvent(e);
      });
      if (signal.aborted) return;
      onState('stream ended; reconnecting');
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      if (e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) {
        onState(`stopped: ${e.describe ? e.describe() : e.message}`, e);
        return;
      }
      if (e.status === 503) wait = 5000;
      onState(`retrying: ${e.describe ? e.describe() : e.message}`);
    }
    await sleep(wait, signal);
  }
}

export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/**
 * The event as test endpoints take it: the stored form adds `seq` and
 * `received_at`, which are not CloudEvent attributes.
 */
export function cloudEventOf(stored) {
  const { seq: _seq, received_at: _received, ...event } = stored || {};
  return event;
}
