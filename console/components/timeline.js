// An event's trace as a timeline: received, what each rule did (matched,
// filtered out, failed; each filter and transform it ran with its plugin,
// outcome and time), and every delivery attempt with its status, latency
// and the target's answer.

import { h, badge, time, ms } from '../lib/dom.js';
import { jsonView } from './json.js';

const LABELS = {
  received: 'Received',
  matched: 'Matched',
  filtered_out: 'Filtered out',
  failed: 'Failed in the plugin chain',
  transformed: 'Transformed',
  queued: 'Queued',
  attempt: 'Attempt',
  attempt_failed: 'Attempt failed',
  delivered: 'Delivered',
  dead_lettered: 'Dead-lettered',
  dropped: 'Dropped',
  redriven: 'Redriven',
  forwarded: 'Forwarded',
  gap: 'Missed (retention)',
  replayed: 'Replayed',
  replay_filtered_out: 'Replay: filtered out',
  replay_failed: 'Replay: failed in the plugin chain',
};

const KIND = {
  received: 'info', matched: 'ok', delivered: 'ok', forwarded: 'ok', transformed: 'info', queued: 'info',
  redriven: 'info', filtered_out: 'muted', attempt_failed: 'warn', failed: 'bad', dead_lettered: 'bad',
  dropped: 'bad', gap: 'warn', replayed: 'info', replay_filtered_out: 'muted', replay_failed: 'bad',
};

function facts(step) {
  const d = step.detail || {};
  const out = [];
  const add = (k, v, testid) => out.push(h('span', { class: 'fact', testid }, h('span', { class: 'fact-k' }, k), ' ', v));
  if (step.rule) add('rule', step.rule, 'trace-rule');
  if (step.target) add('target', step.target, 'trace-target');
  if (d.by) add('plugin', d.by, 'trace-plugin');
  if (d.attempt !== undefined) add('attempt', String(d.attempt));
  if (d.status !== undefined) add('status', h('span', { class: `http-status s${String(d.status)[0]}xx` }, String(d.status)), 'trace-status');
  if (d.duration_ms !== undefined) add(step.target ? 'latency' : 'took', ms(d.duration_ms), 'trace-duration');
  if (d.events !== undefined && step.step === 'matched') add('events out', String(d.events));
  if (Array.isArray(d.targets) && d.targets.length) add('targets', d.targets.join(', '));
  if (d.retry_in_ms !== undefined) add('retry in', ms(d.retry_in_ms));
  if (d.reason) add('reason', String(d.reason));
  if (d.previous_attempts !== undefined) add('previous attempts', String(d.previous_attempts));
  if (d.replay) add('replay', String(d.replay));
  if (d.missed_from !== undefined) add('missed', `${d.missed_from}–${d.missed_to}`);
  return out;
}

/** trace: the answer of GET /v1/buses/{bus}/events/{id}/trace. */
export function timeline(trace) {
  const steps = trace.steps || [];
  const t0 = Date.parse(trace.received_at || (steps[0] && steps[0].at));
  const list = h('ol', { class: 'timeline', testid: 'trace-timeline' });
  for (const step of steps) {
    const d = step.detail || {};
    const at = Date.parse(step.at);
    const offset = step.step === 'received' || Number.isNaN(at) || Number.isNaN(t0) ? '' : `+${ms(Math.max(0, at - t0))}`;
    const kind = KIND[step.step] || 'info';
    const item = h('li', { class: `tl-step tl-${kind}`, testid: 'trace-step', dataset: { step: step.step } },
      h('div', { class: 'tl-head' },
        badge(LABELS[step.step] || step.step, kind),
        h('time', { datetime: step.at, title: step.at }, time(step.at)),
        offset ? h('span', { class: 'tl-offset' }, offset) : null),
      h('div', { class: 'tl-facts' }, facts(step)),
      Array.isArray(d.plugins) && d.plugins.length ? h('ol', { class: 'tl-plugins' }, d.plugins.map((p) => h('li', { testid: 'trace-plugin-step' },
        badge(p.step, 'muted'), ' ', h('span', { class: 'mono' }, p.plugin), ' ',
        badge(p.outcome, p.outcome === 'failed' ? 'bad' : p.outcome === 'dropped' ? 'muted' : 'ok'),
        ` in ${ms((p.duration_us || 0) / 1000)}`))) : null,
      d.error ? h('p', { class: 'tl-error', testid: 'trace-error' }, String(d.error)) : null,
      // The target's answer is shown only when the server sent it (admin tokens).
      d.response !== undefined ? h('details', { class: 'tl-response', testid: 'trace-response' },
        h('summary', null, 'Target answered'),
        typeof d.response === 'string' ? h('pre', null, d.response) : jsonView(d.response)) : null);
    list.appendChild(item);
  }
  if (steps.length <= 1) {
    list.appendChild(h('li', { class: 'tl-step tl-muted' }, 'No rule has handled this event yet (or none matched it): rules that do not match leave no trace.'));
  }
  return list;
}
