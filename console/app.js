// The shell: signs in, draws the header and the sidebar, and routes
// `#/…` hashes to page modules. Hash routes keep every URL under the
// console's own path, so relative asset URLs always resolve under /console/.
//
// A page module exports `render(root, ctx)`. ctx gives the route's params,
// an AbortSignal that fires when the page is left, `every(ms, fn)` for
// timers that stop with the page, and `navigate(route)`.

import { getToken, setToken } from './api.js';
import { h, mount, notice } from './lib/dom.js';
import { sampler } from './lib/prom.js';
import {
  session, probe, roleName, signOut, currentBus, setCurrentBus, canRead,
} from './session.js';
import * as login from './pages/login.js';
import * as buses from './pages/buses.js';
import * as tail from './pages/tail.js';
import * as events from './pages/events.js';
import * as event from './pages/event.js';
import * as rules from './pages/rules.js';
import * as ruleEditor from './pages/rule-editor.js';
import * as deadLetters from './pages/dead-letters.js';
import * as plugins from './pages/plugins.js';
import * as replays from './pages/replays.js';
import * as schemas from './pages/schemas.js';
import * as sources from './pages/sources.js';
import * as metrics from './pages/metrics.js';
import * as tokens from './pages/tokens.js';

const admin = () => session.admin;
const reader = (bus) => canRead(bus);

// path patterns: ':name' captures a segment. `nav` puts the page in the
// sidebar; `allow(params)` says whether the session may see it.
const ROUTES = [
  { path: 'login', page: login, public: true },
  { path: 'buses', page: buses, nav: 'Buses', allow: () => true },
  { path: 'tail/:bus', page: tail, nav: 'Live tail', perBus: true, allow: (p) => reader(p.bus) },
  { path: 'events/:bus', page: events, nav: 'Events', perBus: true, allow: (p) => reader(p.bus) },
  { path: 'event/:bus/:id', page: event, allow: (p) => reader(p.bus) },
  { path: 'rules/:bus', page: rules, nav: 'Rules', perBus: true, allow: admin },
  { path: 'rules/:bus/new', page: ruleEditor, allow: admin },
  { path: 'rules/:bus/edit/:rule', page: ruleEditor, allow: admin },
  { path: 'dead-letters/:bus', page: deadLetters, nav: 'Dead letters', perBus: true, allow: admin },
  { path: 'schemas/:bus', page: schemas, nav: 'Schemas', perBus: true, allow: admin },
  { path: 'sources/:bus', page: sources, nav: 'Sources', perBus: true, allow: admin },
  { path: 'plugins', page: plugins, nav: 'Plugins', allow: admin },
  { path: 'replays', page: replays, nav: 'Replays', allow: admin },
  { path: 'metrics', page: metrics, nav: 'Metrics', allow: () => session.metrics },
  { path: 'tokens', page: tokens, nav: 'Tokens', allow: admin },
];

function match(hash) {
  const [pathPart, queryPart = ''] = hash.replace(/^#\/?/, '').split('?');
  const segs = pathPart.split('/').filter(Boolean).map((x) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  });
  for (const r of ROUTES) {
    const want = r.path.split('/');
    if (want.length !== segs.length) continue;
    const params = {};
    if (want.every((w, i) => (w.startsWith(':') ? ((params[w.slice(1)] = segs[i]), true) : w === segs[i]))) {
      return { route: r, params, query: new URLSearchParams(queryPart) };
    }
  }
  return null;
}

/** Builds `#/a/b` from segments, encoding each. */
export function route(...segs) {
  return `/${segs.map((s) => encodeURIComponent(s)).join('/')}`;
}

export function navigate(r) {
  if (window.location.hash === `#${r}`) render();
  else window.location.hash = r;
}

const els = {};
let leave = null;

function shell() {
  const menu = h('button', {
    class: 'menu-button', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'sidebar', testid: 'menu-button',
    onclick: () => {
      const open = document.body.classList.toggle('nav-open');
      menu.setAttribute('aria-expanded', String(open));
    },
  }, h('span', { class: 'menu-icon', 'aria-hidden': 'true' }, '☰'), h('span', { class: 'sr-only' }, 'Menu'));
  els.role = h('span', { class: 'role', testid: 'role' });
  els.signout = h('button', { type: 'button', class: 'link-button', testid: 'sign-out', onclick: () => { setToken(''); sessionStorage.removeItem('signalbox.open'); signOut(); sampler.reset(); navigate('/login'); } }, 'Sign out');
  els.header = h('header', { class: 'topbar' },
    menu,
    h('a', { class: 'brand', href: '#/buses' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), ' Signalbox'),
    h('span', { class: 'spacer' }),
    els.role, els.signout);
  const skip = h('button', { type: 'button', class: 'skip', onclick: () => els.main.focus() }, 'Skip to content');
  els.nav = h('nav', { id: 'sidebar', class: 'sidebar', 'aria-label': 'Pages', testid: 'nav' });
  els.main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  mount(document.getElementById('app'), skip, els.header, h('div', { class: 'layout' }, els.nav, els.main));
}

function drawNav(active) {
  const bus = currentBus();
  const items = ROUTES.filter((r) => r.nav && r.allow({ bus }));
  mount(els.nav, h('ul', null, items.map((r) => {
    const target = r.perBus ? `/${r.path.split('/')[0]}/${encodeURIComponent(bus)}` : `/${r.path}`;
    const current = active && active.page === r.page;
    return h('li', null, h('a', {
      href: `#${target}`, 'aria-current': current ? 'page' : undefined, testid: `nav-${r.path.split('/')[0]}`,
      onclick: () => document.body.classList.remove('nav-open'),
    }, r.nav, r.perBus ? h('span', { class: 'nav-bus' }, bus) : null));
  })));
  els.role.textContent = roleName();
  els.role.title = session.name ? `token '${session.name}'` : '';
  els.role.className = `role role-${roleName().replace(/\s+/g, '-')}`;
  els.signout.textContent = session.open ? 'Sign in with a token' : 'Sign out';
  els.signout.hidden = !session.ready;
  els.role.hidden = !session.ready;
}

async function render() {
  if (leave) leave();
  const found = match(window.location.hash || '#/buses');
  if (!session.ready && !(found && found.route.public)) {
    navigate(`/login?next=${encodeURIComponent((window.location.hash || '').slice(1))}`);
    return;
  }
  if (!found) {
    navigate('/buses');
    return;
  }
  const { route: r, params, query } = found;
  if (params.bus) setCurrentBus(params.bus);
  document.body.classList.toggle('signed-out', r.public === true);
  drawNav(r);
  const controller = new AbortController();
  const timers = [];
  const cleanups = [];
  leave = () => {
    controller.abort();
    timers.forEach(clearInterval);
    cleanups.forEach((f) => f());
    leave = null;
  };
  const root = h('div', { class: 'page', testid: `page-${r.path.split('/')[0]}` });
  mount(els.main, root);
  if (!r.public && !r.allow(params)) {
    root.appendChild(notice('error', 'Your token may not see this page.', 'forbidden'));
    return;
  }
  const ctx = {
    params, query, signal: controller.signal, navigate, route,
    every(ms, fn) { timers.push(setInterval(fn, ms)); },
    onLeave(fn) { cleanups.push(fn); },
    refreshNav: () => drawNav(r),
    signedIn: async () => {
      drawNav(r);
      const next = query.get('next');
      navigate(next && next !== '/login' && !next.startsWith('/login?') ? next : '/buses');
    },
  };
  try {
    await r.page.render(root, ctx);
  } catch (e) {
    if (e.name === 'AbortError' || controller.signal.aborted) return;
    if (e.status === 401) {
      setToken('');
      signOut();
      navigate('/login');
      return;
    }
    root.appendChild(notice('error', e.describe ? e.describe() : String(e), 'page-error'));
  }
}

async function boot() {
  shell();
  const token = getToken();
  try {
    if (token) await probe(token);
    else {
      // An open server (no tokens yet) may be used without one, but only by
      // choice on the login page; a stored session of that kind resumes.
      if (sessionStorage.getItem('signalbox.open') === '1') await probe('');
      if (session.ready && !session.open) signOut();
    }
  } catch {
    setToken('');
    signOut();
  }
  window.addEventListener('hashchange', render);
  render();
}

boot();
