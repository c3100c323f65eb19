// Prometheus text format: parsing, histogram quantiles, and one shared
// sampler that scrapes GET /metrics every few seconds while a page wants it
// and keeps a short history of compact samples (not whole scrapes).

import { metricsText } from '../api.js';

/** Parses exposition text into Map(name -> [{labels, value}]). */
export function parse(text) {
  const out = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
    const name = line.slice(0, i);
    const labels = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq < 0) break;
        const key = line.slice(i, eq).trim().replace(/^,/, '').trim();
        let j = eq + 2; // past ="
        let v = '';
        while (j < line.length && line[j] !== '"') {
          if (line[j] === '\\' && j + 1 < line.length) {
            const n = line[j + 1];
            v += n === 'n' ? '\n' : n;
            j += 2;
          } else {
            v += line[j];
            j++;
          }
        }
        labels[key] = v;
        i = j + 1;
        if (line[i] === ',') i++;
      }
      i++; // past }
    }
    const value = Number.parseFloat(line.slice(i).trim().split(/\s+/)[0]);
    if (!out.has(name)) out.set(name, []);
    out.get(name).push({ labels, value });
  }
  return out;
}

function sum(families, name, filter = () => true) {
  let s = 0;
  for (const x of families.get(name) || []) if (filter(x.labels)) s += x.value;
  return s;
}

function byLabel(families, name, label, filter = () => true) {
  const out = {};
  for (const x of families.get(name) || []) {
    if (!filter(x.labels)) continue;
    const k = x.labels[label];
    out[k] = (out[k] || 0) + x.value;
  }
  return out;
}

/** Merges every series of a histogram: {buckets: Map(le -> count), sum, count}. */
function histogram(families, name) {
  const buckets = new Map();
  for (const x of families.get(`${name}_bucket`) || []) {
    const le = x.labels.le === '+Inf' ? Infinity : Number.parseFloat(x.labels.le);
    buckets.set(le, (buckets.get(le) || 0) + x.value);
  }
  return { buckets, sum: sum(families, `${name}_sum`), count: sum(families, `${name}_count`) };
}

/** What the console keeps of one scrape. */
export function compact(families, t = Date.now()) {
  const accepted = (l) => l.outcome === 'accepted';
  return {
    t,
    ingestByBus: byLabel(families, 'signalbox_ingest_events_total', 'bus', accepted),
    bytesByBus: byLabel(families, 'signalbox_ingest_bytes_total', 'bus'),
    deliveredByBus: byLabel(families, 'signalbox_target_delivered_total', 'bus'),
    lastSeqByBus: byLabel(families, 'signalbox_bus_last_seq', 'bus'),
    ingested: sum(families, 'signalbox_ingest_events_total', accepted),
    rejected: sum(families, 'signalbox_ingest_events_total', (l) => l.outcome === 'rejected'),
    duplicates: sum(families, 'signalbox_ingest_events_total', (l) => l.outcome === 'duplicate'),
    requestErrors: sum(families, 'signalbox_ingest_requests_total', (l) => l.outcome === 'error'),
    rateLimited: sum(families, 'signalbox_ingest_rate_limited_requests_total'),
    delivered: sum(families, 'signalbox_target_delivered_total'),
    failedAttempts: sum(families, 'signalbox_target_failed_attempts_total'),
    deadLettered: sum(families, 'signalbox_target_dead_letters_total'),
    dropped: sum(families, 'signalbox_target_dropped_total'),
    pluginFailures: sum(families, 'signalbox_plugin_failures_total'),
    ruleErrors: sum(families, 'signalbox_rule_plugin_errors_total'),
    queued: sum(families, 'signalbox_target_queue_depth'),
    ingestLatency: histogram(families, 'signalbox_ingest_request_duration_seconds'),
    deliveryLatency: histogram(families, 'signalbox_delivery_duration_seconds'),
  };
}

/** Per-second rate of a counter between two samples (0 across a reset). */
export function rateBetween(a, b, pick) {
  const dt = (b.t - a.t) / 1000;
  if (dt <= 0) return 0;
  const d = pick(b) - pick(a);
  return d > 0 ? d / dt : 0;
}

/** The bucket counts observed between two histogram snapshots. */
export function histogramDelta(a, b) {
  const buckets = new Map();
  for (const [le, n] of b.buckets) buckets.set(le, Math.max(0, n - (a.buckets.get(le) || 0)));
  return { buckets, count: Math.max(0, b.count - a.count), sum: Math.max(0, b.sum - a.sum) };
}

/**
 * The q-quantile (0..1) of a cumulative histogram, interpolating linearly
 * inside the bucket, as Prometheus' histogram_quantile does. Seconds, or
 * null when it has no observations.
 */
export function quantile(q, h) {
  const les = [...h.buckets.keys()].sort((x, y) => x - y);
  if (!les.length) return null;
  const total = h.buckets.get(Infinity) ?? h.buckets.get(les[les.length - 1]);
  if (!total) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = h.buckets.get(le);
    if (c >= rank) {
      if (le === Infinity) return prevLe; // above the highest finite bucket
      const inBucket = c - prevCount;
      if (inBucket <= 0) return le;
      return prevLe + (le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

/** The shared scraper. */
class Sampler {
  constructor() {
    this.samples = [];
    this.max = 120;
    this.interval = 5000;
    this.listeners = new Set();
    this.timer = null;
    this.error = null;
  }

  /** Calls `fn(samples, error)` after each scrape; returns an unsubscribe. */
  subscribe(fn) {
    this.listeners.add(fn);
    if (this.samples.length) fn(this.samples, this.error);
    if (!this.timer) {
      this.scrape();
      this.timer = setInterval(() => this.scrape(), this.interval);
    }
    return () => {
      this.listeners.delete(fn);
      if (!this.listeners.size) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  async scrape() {
    try {
      const text = await metricsText();
      this.error = null;
      this.samples.push(compact(parse(text)));
      if (this.samples.length > this.max) this.samples.shift();
    } catch (e) {
      this.error = e;
    }
    for (const fn of this.listeners) fn(this.samples, this.error);
  }

  reset() {
    this.samples = [];
  }
}

export const sampler = new Sampler();
