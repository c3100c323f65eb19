// Browser tests of the web console: the real signalbox binary, a receiver
// for its deliveries, and Debian's Chromium driven by playwright-core.
//
//   SIGNALBOX_BIN=target/debug/signalbox node tests/console/run.mjs
//
// Environment:
//   SIGNALBOX_BIN          the server binary (default: target/debug/signalbox)
//   SIGNALBOX_PLUGIN_WASM  the plugin component the tests upload (default: filter_pass.wasm
//                          from the Rust tests' build of plugins/, in
//                          $SIGNALBOX_PLUGINS_TARGET_DIR, plugins/target or target/plugins;
//                          a missing file fails the run)
//   SIGNALBOX_SCREENSHOTS  where screenshots go (default docs/console/)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//
// The console is the one the binary serves at /console (embedded at compile
// time). Prints one line per step and ends with "console: N passed, N failed".

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

const BIN = path.resolve(repo, process.env.SIGNALBOX_BIN || 'target/debug/signalbox');
// Where the Rust tests' build of plugins/ put it (tests/artifacts/build.rs):
// $SIGNALBOX_PLUGINS_TARGET_DIR (scripts/test sets plugins/target), else
// target/plugins.
function defaultWasm() {
  const dirs = process.env.SIGNALBOX_PLUGINS_TARGET_DIR
    ? [process.env.SIGNALBOX_PLUGINS_TARGET_DIR]
    : ['plugins/target', 'target/plugins'];
  const files = dirs.map((d) => path.resolve(repo, d, 'wasm32-wasip2/release/filter_pass.wasm'));
  return files.find((f) => fs.existsSync(f)) || files[0];
}
const WASM = process.env.SIGNALBOX_PLUGIN_WASM ? path.resolve(repo, process.env.SIGNALBOX_PLUGIN_WASM) : defaultWasm();
const SHOTS = path.resolve(repo, process.env.SIGNALBOX_SCREENSHOTS || 'docs/console');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 30_000;

// --- the server -------------------------------------------------------------

async function startServer(dataDir) {
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  const log = [];
  const keep = (chunk) => {
    log.push(chunk.toString());
    if (log.length > 2000) log.splice(0, 1000);
  };
  child.stdout.on('data', keep);
  const addr = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`signalbox did not say where it listens within 60 s:\n${log.join('')}`)); }, 60_000);
    child.stderr.on('data', (chunk) => {
      keep(chunk);
      buf += chunk.toString();
      // Only a whole line counts: a read can end inside the address.
      const m = /listening on http:\/\/(\S+)\r?\n/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`signalbox exited with ${code}:\n${log.join('')}`));
    });
  });
  const url = `http://${addr}`;
  const deadline = Date.now() + 60_000;
  let last = 'no answer';
  for (;;) {
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) break;
      last = `${r.status} ${await r.text()}`;
    } catch (e) {
      last = String(e.cause || e);
    }
    if (Date.now() > deadline) {
      // The caller has no handle to stop it yet: do not leave it running.
      child.kill('SIGKILL');
      throw new Error(`signalbox did not become ready within 60 s; ${url}/readyz: ${last}\n${log.join('').slice(-4000)}`);
    }
    await sleep(100);
  }
  return {
    url,
    log,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }),
  };
}

// --- the receiver: answers 200, or 500 while told to fail --------------------

function startReceiver() {
  const state = { fail: false, requests: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      let id = req.headers['ce-id'];
      if (!id) {
        try {
          id = JSON.parse(body).id;
        } catch {
          id = undefined;
        }
      }
      state.requests.push({ path: req.url, id, failed: state.fail });
      if (state.fail) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"the receiver was told to fail"}');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      state.url = `http://127.0.0.1:${server.address().port}`;
      state.close = () => new Promise((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      });
      resolve(state);
    });
  });
}

// --- helpers ------------------------------------------------------------------

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(what, fn, timeout = WAIT) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(200);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function api(server, token) {
  return async (method, p, body, headers = {}) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      if (!h['content-type']) h['content-type'] = 'application/json';
    }
    const r = await fetch(server.url + p, { method, headers: h, body: payload });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

const tid = (id) => `[data-testid="${id}"]`;

// --- the run ----------------------------------------------------------------------

const steps = [];
// What to stop if the run ends early (the server is a child process: it
// would outlive us otherwise).
const cleanups = [];
function step(name, fn) {
  steps.push({ name, fn });
}

async function main() {
  for (const [what, file, hint] of [
    ['the signalbox binary', BIN, 'build it (cargo build -p signalbox --bin signalbox) or set SIGNALBOX_BIN'],
    ['the plugin to upload', WASM, 'build plugins/ (cargo test builds it; see tests/artifacts) or set SIGNALBOX_PLUGIN_WASM'],
    ['Chromium', CHROMIUM, 'apt-get install chromium (scripts/ensure-deps does) or set CHROMIUM'],
  ]) {
    if (!fs.existsSync(file)) {
      console.error(`console: ${what} is missing at ${file}: ${hint}`);
      console.log('console: 0 passed, 1 failed');
      process.exit(1);
    }
  }
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'signalbox-console-'));
  await fsp.mkdir(SHOTS, { recursive: true });
  const server = await startServer(path.join(tmp, 'data'));
  cleanups.push(server.stop);
  const receiver = await startReceiver();
  cleanups.push(receiver.close);
  const consoleUrl = `${server.url}/console/`;
  console.log(`console: server ${server.url}, console ${consoleUrl}, receiver ${receiver.url}`);

  // Tokens, made through the API while the server is still open (loopback).
  const open = api(server, '');
  const admin = (await open('POST', '/v1/tokens', { name: 'console', scopes: ['admin'] })).secret;
  const adminApi = api(server, admin);
  // Reads one bus (and sees metrics): no edit controls, and no other bus.
  const reader = (await adminApi('POST', '/v1/tokens', { name: 'viewer', scopes: ['read:orders', 'metrics'] })).secret;

  const profile = path.join(tmp, 'profile');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    acceptDownloads: false,
  });
  cleanups.push(() => context.close());
  context.setDefaultTimeout(WAIT);
  const page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => d.accept());

  const go = async (route) => {
    await page.goto(`${consoleUrl}#${route}`);
    await page.waitForSelector(tid(`page-${route.split('/')[1].split('?')[0]}`));
  };
  const shot = async (name) => {
    const noSideScroll = await page.evaluate(() => document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth + 1);
    assert(noSideScroll, `the page scrolls sideways on ${name}`);
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  };
  const publish = (bus, events) => adminApi('POST', `/v1/buses/${bus}/events`, events, { 'content-type': 'application/cloudevents-batch+json' });
  const ce = (id, type, data) => ({ specversion: '1.0', id, source: '/console-test', type, datacontenttype: 'application/json', data });
  const setEditor = async (sel, value) => {
    await page.fill(sel, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  };
  const ruleSpec = (pattern) => ({
    description: 'orders to the test receiver',
    enabled: true,
    pattern,
    targets: [{ id: 'receiver', type: 'http', url: `${receiver.url}/hook`, retry: { max_attempts: 1 } }],
  });
  const patternResult = (want) => page.waitForSelector(`${tid('pattern-result')}[data-result="${want}"]`);

  step('the binary serves the console: no token, strict CSP, cache headers', async () => {
    // Tokens exist by now, yet the console's files need none.
    const bare = await fetch(`${server.url}/console`, { redirect: 'manual' });
    assert(bare.status === 308 && bare.headers.get('location') === '/console/', `/console answers ${bare.status} ${bare.headers.get('location')}`);
    const index = await fetch(consoleUrl);
    assert(index.status === 200, `/console/ answers ${index.status}`);
    assert((index.headers.get('content-type') || '').startsWith('text/html'), `index content-type ${index.headers.get('content-type')}`);
    const csp = index.headers.get('content-security-policy') || '';
    assert(csp.includes("default-src 'self'") && csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), `CSP: ${csp}`);
    assert(index.headers.get('cache-control') === 'no-cache', `index cache-control ${index.headers.get('cache-control')}`);
    const html = await index.text();
    const m = /src="(v\/[0-9a-f]+\/app\.js)"/.exec(html);
    assert(m, `index.html does not load a versioned app.js: ${html.slice(0, 400)}`);
    const app = await fetch(`${consoleUrl}${m[1]}`);
    assert(app.status === 200 && (app.headers.get('content-type') || '').startsWith('text/javascript'), `app.js: ${app.status} ${app.headers.get('content-type')}`);
    assert((app.headers.get('cache-control') || '').includes('immutable'), `versioned app.js cache-control ${app.headers.get('cache-control')}`);
    const etag = app.headers.get('etag');
    const again = await fetch(`${consoleUrl}app.js`, { headers: { 'if-none-match': etag } });
    assert(again.status === 304, `a matching If-None-Match answers ${again.status}`);
    const missing = await fetch(`${consoleUrl}no-such-file.js`);
    assert(missing.status === 404 && (missing.headers.get('content-type') || '').includes('problem+json'), `a missing file answers ${missing.status}`);
    // The API itself still wants the token.
    const api = await fetch(`${server.url}/v1/buses`);
    assert(api.status === 401, `GET /v1/buses without a token answers ${api.status}`);
  });

  step('sign in with an admin token', async () => {
    await page.goto(consoleUrl);
    await page.waitForSelector(tid('login-form'));
    await page.fill(tid('login-token'), admin);
    await page.click(tid('login-submit'));
    await page.waitForSelector(tid('page-buses'));
    const role = await page.textContent(tid('role'));
    assert(role === 'admin', `the header says '${role}', not 'admin'`);
  });

  step('create a bus in the buses page', async () => {
    await page.fill(tid('bus-create-name'), 'orders');
    await page.fill(tid('bus-create-description'), 'Orders from the shop');
    await page.fill(tid('bus-create-retention'), '3d');
    await page.click(tid('bus-create-submit'));
    await page.waitForSelector(`${tid('bus-row')}[data-key="orders"]`);
    const bus = await adminApi('GET', '/v1/buses/orders');
    assert(bus.retention === '3d', `retention is ${bus.retention}`);
  });

  step('create a rule with a pattern; the tester says match and no match', async () => {
    await go('/rules/orders/new');
    await page.fill(tid('rule-name-input'), 'ship');
    await setEditor(tid('rule-json'), ruleSpec({ type: ['com.example.order.created'] }));
    await patternResult('match');
    await setEditor(tid('rule-json'), ruleSpec({ type: ['com.example.order.cancelled'] }));
    await patternResult('no-match');
    await setEditor(tid('rule-json'), ruleSpec({ data: { total: [{ numeric: ['>', 'x'] }] } }));
    await patternResult('error');
    const why = await page.textContent(tid('pattern-error'));
    assert(why && why.length > 5, 'the tester shows no reason for the invalid pattern');
    await setEditor(tid('rule-json'), ruleSpec({ type: ['com.example.order.created'] }));
    await patternResult('match');
    await shot('rule-editor');
    // The server's problem document (detail and field) shows when a save fails.
    const bad = ruleSpec({ type: ['com.example.order.created'] });
    bad.targets[0].url = 'not a url';
    await setEditor(tid('rule-json'), bad);
    await page.click(tid('rule-save'));
    const problem = await page.textContent(`${tid('rule-save-status')} ${tid('error')}`);
    assert(problem.includes('targets[0]'), `the save error does not name the field: ${problem}`);
    await setEditor(tid('rule-json'), ruleSpec({ type: ['com.example.order.created'] }));
    await page.click(tid('rule-save'));
    await page.waitForSelector(tid('rule-saved'));
    const rule = await adminApi('GET', '/v1/buses/orders/rules/ship');
    assert(rule.targets[0].url === `${receiver.url}/hook`, 'the rule was not stored as written');
    await go('/rules/orders');
    await page.waitForSelector(`${tid('rule-row')}[data-key="ship"]`);
  });

  step('published events appear in the live tail, filtered in place by the server', async () => {
    await go('/tail/orders');
    await page.waitForSelector(`${tid('tail-state')}[data-state="live"]`);
    await publish('orders', [
      ce('order-1', 'com.example.order.created', { order: 1, total: 50 }),
      ce('order-2', 'com.example.order.created', { order: 2, total: 150 }),
      ce('order-3', 'com.example.order.created', { order: 3, total: 250 }),
    ]);
    for (const id of ['order-1', 'order-2', 'order-3']) await page.waitForSelector(`${tid('tail-row')}[data-id="${id}"]`);
    const ids = () => page.$$eval(tid('tail-row'), (rows) => rows.map((r) => r.dataset.id));
    // A pattern: the stream restarts with it and only matches come back.
    await page.fill(tid('tail-filter'), '{"data": {"total": [{"numeric": [">", 100]}]}}');
    await page.waitForSelector(tid('tail-filter-on'));
    await page.waitForSelector(`${tid('tail-state')}[data-state="live"]`);
    await page.waitForSelector(`${tid('tail-row')}[data-id="order-3"]`);
    await page.waitForSelector(`${tid('tail-row')}[data-id="order-2"]`);
    assert(!(await ids()).includes('order-1'), `the pattern let order-1 through: ${await ids()}`);
    await publish('orders', [
      ce('order-4', 'com.example.order.created', { order: 4, total: 400 }),
      ce('order-5', 'com.example.order.created', { order: 5, total: 5 }),
      ce('order-6', 'com.example.order.created', { order: 6, total: 600 }),
    ]);
    await page.waitForSelector(`${tid('tail-row')}[data-id="order-6"]`);
    assert(!(await ids()).includes('order-5'), `the pattern let order-5 through: ${await ids()}`);
    await shot('tail');
    // CESQL, and what an invalid expression says.
    await page.selectOption(tid('tail-filter-mode'), 'cesql');
    await page.fill(tid('tail-filter'), "id = 'order-5'");
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="tail-row"]')].map((r) => r.dataset.id);
      return rows.length === 1 && rows[0] === 'order-5';
    });
    await page.fill(tid('tail-filter'), "id = = 'x'");
    await page.waitForSelector(tid('tail-filter-error'));
    const why = await page.textContent(tid('tail-filter-error'));
    assert(/CESQL/i.test(why), `the filter error says: ${why}`);
    await page.fill(tid('tail-filter'), '');
    await page.waitForSelector(`${tid('tail-row')}[data-id="order-1"]`);
  });

  step('an event\'s trace shows its delivery with the target\'s status', async () => {
    await page.click(`${tid('tail-row')}[data-id="order-2"]`);
    await page.click(tid('tail-open-trace'));
    await page.waitForSelector(tid('trace-timeline'));
    const delivered = await page.waitForSelector(`${tid('trace-step')}[data-step="delivered"]`);
    const status = await delivered.$eval(tid('trace-status'), (el) => el.textContent);
    assert(status.includes('200'), `the delivery step shows status ${status}`);
    await page.waitForSelector(`${tid('trace-step')}[data-step="matched"] ${tid('trace-rule')}`);
    await page.waitForSelector(`${tid('event-rule')}[data-rule="ship"]:has-text("matched")`);
    await shot('trace');
  });

  step('a failing target dead-letters; the page redrives it and it is delivered', async () => {
    receiver.fail = true;
    await publish('orders', [ce('order-fail', 'com.example.order.created', { order: 99, total: 999 })]);
    await until('the dead letter', async () => {
      const r = await adminApi('GET', '/v1/buses/orders/rules/ship');
      return r.status.targets[0].dead_letters >= 1;
    });
    await go('/rules/orders');
    await page.waitForSelector(`${tid('rule-row')}[data-key="ship"] a${tid('target-dead-letters')}`);
    await shot('rules');
    await page.click(`${tid('rule-row')}[data-key="ship"] a${tid('target-dead-letters')}`);
    const row = await page.waitForSelector(`${tid('dlq-row')}`);
    assert((await row.textContent()).includes('order-fail'), 'the dead letter does not show its event');
    assert((await row.textContent()).includes('500'), 'the dead letter does not show the target\'s status');
    await row.click();
    await page.waitForSelector(tid('dlq-json'));
    await shot('dead-letters');
    // The trace shows the failed attempt with the receiver's answer (admin).
    await page.click(tid('dlq-open-trace'));
    const dead = await page.waitForSelector(`${tid('trace-step')}[data-step="dead_lettered"]`);
    assert((await dead.$eval(tid('trace-status'), (el) => el.textContent)).includes('500'), 'no 500 on the dead-lettered step');
    assert(await dead.$(tid('trace-response')), 'the admin does not see the target\'s answer');
    receiver.fail = false;
    await go('/dead-letters/orders?rule=ship');
    await page.waitForSelector(tid('dlq-row'));
    await page.click(tid('dlq-redrive'));
    await page.waitForSelector(tid('dlq-redriven'));
    await page.waitForSelector(`${tid('dlq-table')} ${tid('dlq-table-empty')}`);
    await until('the redriven event at the receiver', () => receiver.requests.some((r) => r.id === 'order-fail' && !r.failed));
    await page.goto(`${consoleUrl}#/event/orders/order-fail`);
    await page.waitForSelector(`${tid('trace-step')}[data-step="redriven"]`);
    await page.waitForSelector(`${tid('trace-step')}[data-step="delivered"]`);
  });

  step('upload a plugin by drag-and-drop and try it', async () => {
    await go('/plugins');
    const bytes = await fsp.readFile(WASM);
    const dt = await page.evaluateHandle(({ b64, name }) => {
      const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const t = new DataTransfer();
      t.items.add(new File([bin], name, { type: 'application/wasm' }));
      return t;
    }, { b64: bytes.toString('base64'), name: path.basename(WASM) });
    await page.dispatchEvent(tid('plugin-drop'), 'drop', { dataTransfer: dt });
    await page.waitForFunction((sel) => document.querySelector(sel).textContent.includes('.wasm'), tid('plugin-chosen'));
    await page.fill(tid('plugin-upload-name'), 'console-test');
    await page.fill(tid('plugin-upload-version'), '1.0.0');
    await page.click(tid('plugin-upload'));
    await page.waitForSelector(tid('plugin-uploaded'));
    await page.waitForSelector(`${tid('plugin-row')}[data-key="console-test@1.0.0"]`);
    const listed = await adminApi('GET', '/v1/plugins/console-test');
    assert(listed.versions.length === 1 && listed.versions[0].size === bytes.length, 'the stored plugin differs from the file');
    await page.selectOption(tid('plugin-try-ref'), 'console-test@1.0.0');
    await page.click(tid('plugin-try'));
    const outcome = await page.textContent(tid('plugin-try-outcome'));
    assert(['keep', 'drop', 'events', 'delivered'].includes(outcome.trim()), `try-it answered '${outcome}'`);
    await shot('plugins');
  });

  step('the file input uploads a second version; a rule that uses it shows in the list', async () => {
    await go('/plugins');
    await page.setInputFiles(tid('plugin-file'), WASM);
    await page.fill(tid('plugin-upload-name'), 'console-test');
    await page.fill(tid('plugin-upload-version'), '1.0.1');
    await page.click(tid('plugin-upload'));
    await page.waitForSelector(`${tid('plugin-row')}[data-key="console-test@1.0.1"]`);
    const withFilter = ruleSpec({ type: ['com.example.never'] });
    withFilter.filters = [{ plugin: 'console-test@1.0.1', config: {} }];
    await adminApi('PUT', '/v1/buses/orders/rules/filtered', withFilter);
    await page.click(tid('plugins-refresh'));
    await page.waitForSelector(`${tid('plugin-row')}[data-key="console-test@1.0.1"] ${tid('plugin-used-by')}:has-text("orders/filtered")`);
    assert(await page.$(`${tid('plugin-row')}[data-key="console-test@1.0.0"] ${tid('plugin-unused')}`), 'version 1.0.0 shows a user');
    // The trace of an event the rule handled names the plugin and its time.
    await adminApi('PUT', '/v1/buses/orders/rules/filtered', { ...withFilter, pattern: { type: ['com.example.plugin.test'] } });
    await publish('orders', [ce('via-plugin', 'com.example.plugin.test', { order: 8, total: 8 })]);
    await page.goto(`${consoleUrl}#/event/orders/via-plugin`);
    const pluginStep = await page.waitForSelector(`${tid('trace-step')}[data-step="matched"] ${tid('trace-plugin-step')}`);
    const text = await pluginStep.textContent();
    assert(text.includes('console-test@1.0.1') && text.includes('kept'), `the trace shows the plugin step as '${text}'`);
    await page.waitForSelector(`${tid('trace-step')}[data-step="delivered"]`);
    await adminApi('DELETE', '/v1/buses/orders/rules/filtered');
  });

  step('events are found by id, position, time range and filter', async () => {
    await go('/events/orders');
    await page.waitForSelector(`${tid('event-row')}`);
    const n = await page.$$eval(tid('event-row'), (rows) => rows.length);
    assert(n >= 5, `the newest page shows ${n} events`);
    await page.fill(tid('search-seq'), '2');
    await page.click(tid('search-seq-go'));
    await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.key === '2', `${tid('event-row')}`);
    // A time range: from long ago to before the first event finds nothing;
    // from long ago with no end starts at seq 1.
    const first = await adminApi('GET', '/v1/buses/orders/events?after=0&limit=1');
    const firstAt = Date.parse(first.events[0].received_at);
    const local = (ms) => {
      const d = new Date(ms);
      const p = (x) => String(x).padStart(2, '0');
      // A datetime-local input shows whole minutes without seconds, and
      // playwright-core's fill wants the value exactly as the input keeps it.
      const secs = d.getSeconds() ? `:${p(d.getSeconds())}` : '';
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}${secs}`;
    };
    await page.fill(tid('search-since'), '2000-01-01T00:00');
    await page.fill(tid('search-before'), local(firstAt - 1000));
    await page.click(tid('search-go'));
    await page.waitForSelector(`${tid('events-table')} ${tid('events-table-empty')}`);
    await page.fill(tid('search-before'), '');
    await page.click(tid('search-go'));
    await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.key === '1', `${tid('event-row')}`);
    // A filter, applied by the server.
    await page.selectOption(tid('search-filter-kind'), 'pattern');
    await page.fill(tid('search-filter'), '{"data": {"total": [{"numeric": [">", 500]}]}}');
    await page.click(tid('search-go'));
    const found = () => page.$$eval(tid('event-link'), (links) => links.map((a) => a.textContent));
    // The unfiltered page before it also holds order-6: wait for the
    // page without order-1 (below the filter's threshold) to arrive.
    await until('the filtered page', async () => {
      const shown = await found();
      return shown.includes('order-6') && !shown.includes('order-1');
    });
    const ids = await found();
    assert(!ids.includes('order-5') && !ids.includes('order-1'), `the filter found ${ids}`);
    await page.selectOption(tid('search-filter-kind'), 'cesql');
    await page.fill(tid('search-filter'), "id = 'order-4'");
    await page.click(tid('search-go'));
    await until('the CESQL page', async () => JSON.stringify(await found()) === '["order-4"]');
    await shot('events');
    await page.fill(tid('search-id'), 'order-3');
    await page.click(tid('search-id-submit'));
    await page.waitForSelector(tid('event-id'));
    assert((await page.textContent(tid('event-id'))) === 'order-3', 'the search opened another event');
  });

  step('buses and metrics pages chart the server\'s metrics', async () => {
    // A steady trickle of events, so the rates and charts have something to show.
    let n = 0;
    const feed = setInterval(() => {
      const batch = Array.from({ length: 3 + (n % 5) }, () => {
        n += 1;
        return ce(`feed-${n}`, 'com.example.order.created', { order: 1000 + n, total: n % 300 });
      });
      publish('orders', batch).catch(() => {});
    }, 250);
    try {
      await chartsAndRates();
    } finally {
      clearInterval(feed);
    }
  });

  const chartsAndRates = async () => {
    await go('/metrics');
    // Two scrapes (5 s apart) make the first point of every chart.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="chart-throughput"] path.series').length === 2
      && !document.querySelector('[data-testid="chart-throughput"] .empty'), null, { timeout: 20_000 });
    await page.waitForSelector(tid('chart-delivery-latency'));
    await page.waitForSelector(tid('chart-errors'));
    // A few more scrapes, so the lines have a shape worth a screenshot.
    await page.waitForFunction(() => {
      const d = document.querySelector('[data-testid="chart-throughput"] path.series-0')?.getAttribute('d') || '';
      return (d.match(/L/g) || []).length >= 3;
    }, null, { timeout: 40_000 });
    await shot('metrics');
    await go('/buses');
    await page.waitForSelector(`${tid('bus-row')}[data-key="orders"] ${tid('bus-sparkline')}`);
    await page.waitForFunction(() => {
      const cell = document.querySelector('[data-testid="bus-row"][data-key="orders"] [data-testid="bus-rate-in"]');
      return cell && /^[1-9]/.test(cell.textContent);
    }, null, { timeout: 20_000 });
    await shot('buses');
  };

  step('replays start and show progress', async () => {
    await go('/replays');
    await page.selectOption(tid('replay-bus'), 'orders');
    await page.waitForSelector(`${tid('replay-rules')} input[value="ship"]`);
    await page.check(`${tid('replay-rules')} input[value="ship"]`);
    await page.fill(tid('replay-from'), '1');
    await page.click(tid('replay-start'));
    await page.waitForSelector(tid('replay-started'));
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="replay-state"]')].some((e) => e.textContent.includes('completed')));
    // A slow one, to pause, resume and cancel.
    await page.fill(tid('replay-rate'), '1');
    await page.click(tid('replay-start'));
    const state = (want) => page.waitForSelector(`${tid('replay-row')}[data-key="rp-2"] ${tid('replay-state')}:has-text("${want}")`);
    await state('running');
    await page.click(`${tid('replay-row')}[data-key="rp-2"] ${tid('replay-pause')}`);
    await state('paused');
    await shot('replays');
    await page.click(`${tid('replay-row')}[data-key="rp-2"] ${tid('replay-resume')}`);
    await state('running');
    await page.click(`${tid('replay-row')}[data-key="rp-2"] ${tid('replay-cancel')}`);
    await state('cancelled');
  });

  step('schemas: register a version and see it listed', async () => {
    await go('/schemas/orders');
    await page.fill(tid('schema-type'), 'com.example.order.created');
    await page.fill(tid('schema-version'), '1');
    await setEditor(tid('schema-json'), { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', required: ['order'] });
    await page.click(tid('schema-save'));
    await page.waitForSelector(`${tid('schema-row')}:has-text("com.example.order.created")`);
    await shot('schemas');
  });

  step('sources: create a schedule, see it fire, pause it', async () => {
    // On the default bus: its firings must not become the orders bus's
    // latest event, which the pattern tester below samples.
    await go('/sources/default');
    await page.waitForSelector(tid('page-sources'));
    await page.fill(tid('source-name'), 'tick');
    await setEditor(tid('source-json'), {
      type: 'schedule', expression: 'rate(1 second)', event: { type: 'com.example.tick', source: '/console-test/tick' },
    });
    await page.click(tid('source-save'));
    const row = `${tid('source-row')}[data-key="tick"]`;
    await page.waitForSelector(`${row} ${tid('source-state')}:has-text("running")`);
    // The table refreshes every second: a firing shows in its count.
    await page.waitForFunction((sel) => Number(document.querySelector(sel)?.textContent.replace(/\D/g, '')) > 0,
      `${row} ${tid('source-published')}`, { timeout: 10000 });
    await shot('sources');
    await page.click(`${row} button:has-text("Pause")`);
    await page.waitForSelector(`${row} ${tid('source-state')}:has-text("paused")`);
  });

  step('the pattern tester takes the bus\'s latest event', async () => {
    await go('/rules/orders/edit/ship');
    await page.waitForFunction((sel) => document.querySelector(sel).value.includes('receiver'), tid('rule-json'));
    await page.click(tid('sample-latest'));
    await page.waitForFunction((sel) => document.querySelector(sel).value.includes('/console-test'), tid('sample-json'));
    await patternResult('match');
  });

  step('a read-only token sees no edit controls', async () => {
    await page.click(tid('sign-out'));
    await page.waitForSelector(tid('login-form'));
    await page.fill(tid('login-token'), reader);
    await page.click(tid('login-submit'));
    await page.waitForSelector(tid('page-buses'));
    assert((await page.textContent(tid('role'))) === 'read-only', 'the header does not say read-only');
    const editControls = [
      'bus-create-form', 'bus-create-submit', 'bus-delete', 'bus-rules', 'rule-new', 'rule-edit', 'rule-delete', 'rule-save',
      'dlq-redrive', 'dlq-purge', 'plugin-upload', 'plugin-drop', 'plugin-delete', 'replay-start',
      'nav-rules', 'nav-dead-letters', 'nav-plugins', 'nav-replays', 'nav-tokens', 'nav-schemas', 'nav-sources',
    ];
    const noEdits = async (where) => {
      const found = [];
      for (const id of editControls) if (await page.$(tid(id))) found.push(id);
      const danger = await page.$$('button.danger');
      assert(!found.length && !danger.length, `${where} offers ${[...found, ...(danger.length ? ['a danger button'] : [])].join(', ')}`);
    };
    // The buses it may read, and no other.
    await page.waitForSelector(`${tid('bus-row')}[data-key="orders"]`);
    const listed = await page.$$eval(tid('bus-row'), (rows) => rows.map((r) => r.dataset.key));
    assert(JSON.stringify(listed) === '["orders"]', `a read:orders token sees buses ${listed}`);
    await noEdits('the buses page');
    await go('/tail/orders');
    await page.waitForSelector(tid('tail-row'));
    // Filtering is reading: a reader may.
    await publish('orders', [ce('order-ro', 'com.example.order.created', { order: 7, total: 7 })]);
    await page.waitForSelector(`${tid('tail-row')}[data-id="order-ro"]`);
    await page.fill(tid('tail-filter'), '{"id": ["order-ro"]}');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="tail-row"]')].map((r) => r.dataset.id);
      return rows.length === 1 && rows[0] === 'order-ro';
    });
    await noEdits('the tail');
    await page.goto(`${consoleUrl}#/event/orders/order-fail`);
    await page.waitForSelector(`${tid('trace-step')}[data-step="dead_lettered"]`);
    assert(!(await page.$(tid('trace-response'))), 'a read-only token sees the target\'s answer');
    await noEdits('the trace');
    await shot('read-only');
    for (const r of ['/rules/orders', '/dead-letters/orders', '/plugins', '/rules/orders/new', '/tail/default']) {
      await page.goto(`${consoleUrl}#${r}`);
      await page.waitForSelector(tid('forbidden'));
      await noEdits(r);
    }
  });

  step('on a phone the sidebar is a menu and nothing scrolls sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click(tid('sign-out'));
    await page.fill(tid('login-token'), admin);
    await page.click(tid('login-submit'));
    await page.waitForSelector(tid('page-buses'));
    await go('/rules/orders');
    await page.waitForSelector(`${tid('rule-row')}[data-key="ship"]`);
    assert(!(await page.isVisible(tid('nav'))), 'the sidebar shows on a phone');
    await page.click(tid('menu-button'));
    await page.waitForSelector(`${tid('nav')}:visible`);
    await page.click(tid('menu-button'));
    await shot('phone');
    await go('/tail/orders');
    await shot('tail-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  step('no uncaught errors in the page', async () => {
    assert(!pageErrors.length, `page errors: ${pageErrors.join(' | ')}`);
  });

  let passed = 0;
  let failed = 0;
  for (const s of steps) {
    const t0 = Date.now();
    try {
      await s.fn();
      passed++;
      console.log(`✓ ${s.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      console.log(`✗ ${s.name}\n    ${String(e && e.stack ? e.stack : e).split('\n').slice(0, 6).join('\n    ')}`);
      const name = `failed-${s.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}.png`;
      await page.screenshot({ path: path.join(tmp, name) }).catch(() => {});
      console.log(`    screenshot: ${path.join(tmp, name)}; url ${page.url()}`);
    }
  }

  for (const f of cleanups.splice(0).reverse()) await f().catch(() => {});
  if (failed) {
    console.log('--- server log (last lines) ---');
    console.log(server.log.join('').split('\n').slice(-40).join('\n'));
  } else {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  console.log(`console: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch(async (e) => {
  console.error(e);
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => {});
  console.log('console: 0 passed, 1 failed');
  process.exit(1);
});
