// Metrics: throughput, latency percentiles and errors, charted from the
// server's own Prometheus metrics, scraped every 5 s while a page shows
// them (the history lives as long as the tab).
//
// API: GET /metrics. Percentiles come from the histogram buckets of
// signalbox_ingest_request_duration_seconds and
// signalbox_delivery_duration_seconds, over each scrape interval (the
// buckets' increase, as Prometheus' histogram_quantile(rate(...)) does).

import { h, mount, notice, ms, rate } from '../lib/dom.js';
import { lineChart } from '../components/chart.js';
import { sampler, rateBetween, histogramDelta, quantile } from '../lib/prom.js';

function rates(samples, pick) {
  const pts = [];
  for (let i = 1; i < samples.length; i++) pts.push([samples[i].t, rateBetween(samples[i - 1], samples[i], pick)]);
  return pts;
}

function percentiles(samples, pickHist, q) {
  const pts = [];
  for (let i = 1; i < samples.length; i++) {
    const d = histogramDelta(pickHist(samples[i - 1]), pickHist(samples[i]));
    const v = d.count ? quantile(q, d) : null;
    pts.push([samples[i].t, v === null ? null : v * 1000]);
  }
  return pts;
}

function totals(s) {
  const last = s[s.length - 1];
  const hist = (x) => (x.count ? x : null);
  const ing = hist(last.ingestLatency);
  const del = hist(last.deliveryLatency);
  const stat = (label, value) => h('div', { class: 'stat' }, h('dt', null, label), h('dd', null, value));
  return h('dl', { class: 'totals', testid: 'metrics-totals' },
    stat('Events accepted', String(last.ingested)),
    stat('Delivered', String(last.delivered)),
    stat('Queued now', String(last.queued)),
    stat('Dead-lettered', String(last.deadLettered)),
    stat('Ingest p50 / p99', ing ? `${ms(quantile(0.5, ing) * 1000)} / ${ms(quantile(0.99, ing) * 1000)}` : '—'),
    stat('Delivery p50 / p99', del ? `${ms(quantile(0.5, del) * 1000)} / ${ms(quantile(0.99, del) * 1000)}` : '—'));
}

export async function render(root, ctx) {
  const body = h('div', { class: 'slot' });
  const err = h('div', { class: 'slot' });
  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Metrics'), h('span', { class: 'muted' }, 'GET /metrics every 5 s')),
    err, body);

  const draw = (samples, error) => {
    mount(err, error ? notice('error', `Cannot read metrics: ${error.describe ? error.describe() : error}`) : null);
    if (!samples.length) {
      mount(body, h('p', { class: 'muted' }, 'Collecting the first samples…'));
      return;
    }
    const perSec = (v) => rate(v);
    const lat = (v) => ms(v);
    mount(body,
      totals(samples),
      h('div', { class: 'charts' },
        lineChart([
          { name: 'accepted', points: rates(samples, (x) => x.ingested) },
          { name: 'delivered', points: rates(samples, (x) => x.delivered) },
        ], { title: 'Throughput (events per second)', unit: perSec, testid: 'chart-throughput' }),
        lineChart([
          { name: 'p50', points: percentiles(samples, (x) => x.ingestLatency, 0.5) },
          { name: 'p90', points: percentiles(samples, (x) => x.ingestLatency, 0.9) },
          { name: 'p99', points: percentiles(samples, (x) => x.ingestLatency, 0.99) },
        ], { title: 'Ingest request latency', unit: lat, testid: 'chart-ingest-latency' }),
        lineChart([
          { name: 'p50', points: percentiles(samples, (x) => x.deliveryLatency, 0.5) },
          { name: 'p90', points: percentiles(samples, (x) => x.deliveryLatency, 0.9) },
          { name: 'p99', points: percentiles(samples, (x) => x.deliveryLatency, 0.99) },
        ], { title: 'Delivery latency (queued to delivered)', unit: lat, testid: 'chart-delivery-latency' }),
        lineChart([
          { name: 'rejected events', points: rates(samples, (x) => x.rejected) },
          { name: 'failed attempts', points: rates(samples, (x) => x.failedAttempts) },
          { name: 'dead-lettered', points: rates(samples, (x) => x.deadLettered) },
          { name: 'plugin failures', points: rates(samples, (x) => x.pluginFailures) },
          { name: 'rate-limited requests', points: rates(samples, (x) => x.rateLimited) },
        ], { title: 'Errors (per second)', unit: perSec, testid: 'chart-errors' })));
  };
  ctx.onLeave(sampler.subscribe(draw));
}
