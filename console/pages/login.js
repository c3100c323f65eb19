// Sign in with an API token, or go on without one when the server is open
// (it has no tokens yet and listens on loopback).
//
// API: GET /v1/whoami without a token (is the server open?), then with
// the token (what may it do?).

import { setToken } from '../api.js';
import { h, field, busy, notice } from '../lib/dom.js';
import {
  probe, serverIsOpen, roleName, session, canRead, currentBus, setCurrentBus,
} from '../session.js';

export async function render(root, ctx) {
  const input = h('input', {
    type: 'password', name: 'token', autocomplete: 'current-password', spellcheck: 'false',
    placeholder: 'sbx_…', testid: 'login-token', required: true,
  });
  const msg = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'login-submit' }, 'Sign in');
  const openSlot = h('div', { class: 'slot' });

  const done = async (token) => {
    await probe(token);
    if (!session.admin && !session.metrics && !session.readAny && !session.readBuses.length) {
      throw new Error('This token is valid but may not read buses, events or metrics; the console has nothing to show it.');
    }
    setToken(token);
    // Per-bus pages open on a bus the token may read.
    if (!canRead(currentBus()) && session.readBuses.length) setCurrentBus(session.readBuses[0]);
    sessionStorage.setItem('signalbox.open', session.open ? '1' : '0');
    msg.replaceChildren(notice('ok', `Signed in (${roleName()}).`));
    await ctx.signedIn();
  };

  const form = h('form', {
    class: 'card login', testid: 'login-form',
    onsubmit: (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      busy(submit, () => done(token), msg);
    },
  },
  h('h1', null, 'Signalbox console'),
  h('p', null, 'Sign in with an API token. What the token may do decides what the console offers: a read-only token sees events and traces but no edit controls.'),
  field('API token', input, 'Create one with `signalbox token create` or POST /v1/tokens. It is kept in this tab only.'),
  h('div', { class: 'actions' }, submit),
  msg,
  openSlot);
  root.appendChild(form);
  input.focus();

  if (await serverIsOpen()) {
    const go = h('button', { type: 'button', testid: 'login-open' }, 'Continue without a token');
    go.addEventListener('click', () => busy(go, () => done(''), msg));
    openSlot.append(
      notice('info', 'This server has no tokens yet and answers without one (it listens on loopback only).'),
      h('div', { class: 'actions' }, go),
    );
  }
  ctx.signal.addEventListener('abort', () => openSlot.replaceChildren());
}
