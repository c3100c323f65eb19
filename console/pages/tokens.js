// API tokens: list, create (the secret is shown once), revoke.
//
// API: GET /v1/tokens; POST /v1/tokens {"name", "scopes", "ttl"?} ->
// {"token", "secret"}; DELETE /v1/tokens/{id}.

import { get, post, del, seg } from '../api.js';
import {
  h, mount, field, busy, notice,
} from '../lib/dom.js';
import { table } from '../components/table.js';

const when = (micros) => (micros ? new Date(micros / 1000).toLocaleString() : 'never');

export async function render(root, ctx) {
  const msg = h('div', { class: 'slot' });
  const list = h('div', { class: 'slot' });

  async function load() {
    const { tokens } = await get('/v1/tokens', { signal: ctx.signal });
    mount(list, table([
      { label: 'Name', render: (t) => h('strong', null, t.name) },
      { label: 'Id', class: 'mono', render: (t) => t.id },
      { label: 'Scopes', render: (t) => t.scopes.join(', ') },
      { label: 'Created', render: (t) => when(t.created_at) },
      { label: 'Expires', render: (t) => when(t.expires_at) },
      { label: 'From', render: (t) => t.origin || 'api' },
      {
        label: '',
        render: (t) => ((t.origin || 'api') === 'api' ? h('button', {
          type: 'button', class: 'small danger',
          onclick: (e) => {
            if (!window.confirm(`Revoke token '${t.name}' (${t.id})?`)) return;
            busy(e.currentTarget, async () => {
              await del(`/v1/tokens/${seg(t.id)}`);
              await load();
            }, msg);
          },
        }, 'Revoke') : h('span', { class: 'muted' }, 'configured')),
      },
    ], tokens, { testid: 'tokens-table', rowTestid: 'token-row' }));
  }

  const nameIn = h('input', { name: 'name', required: true, autocomplete: 'off', testid: 'token-name' });
  const scopesIn = h('input', { name: 'scopes', required: true, placeholder: 'read:*, publish:orders', testid: 'token-scopes' });
  const ttlIn = h('input', { name: 'ttl', placeholder: '90d', testid: 'token-ttl' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create token');
  const form = h('form', {
    class: 'card',
    onsubmit: (e) => {
      e.preventDefault();
      busy(create, async () => {
        const body = { name: nameIn.value.trim(), scopes: scopesIn.value.split(/[\s,]+/).filter(Boolean) };
        if (ttlIn.value.trim()) body.ttl = ttlIn.value.trim();
        const r = await post('/v1/tokens', body, { signal: ctx.signal });
        mount(msg, notice('ok', 'Token created. Copy the secret now: it is not shown again.'),
          h('pre', { class: 'secret', testid: 'token-secret' }, r.secret));
        nameIn.value = '';
        await load();
      }, msg);
    },
  }, h('h2', null, 'Create a token'),
  h('div', { class: 'form-row' },
    field('Name', nameIn),
    field('Scopes', scopesIn, 'admin, metrics, publish:<bus>, read:<bus>; <bus> may be *'),
    field('Lifetime', ttlIn, 'empty: never expires')),
  h('div', { class: 'actions' }, create));

  root.append(h('div', { class: 'page-head' }, h('h1', null, 'Tokens')), list, form, msg);
  await load();
}
