// A tiny development server for the console: serves console/ from disk
// under /console/ (index.html for /console and any /console/* path that is
// not a file; the real server embeds the files and answers 404 there) and
// proxies every other path to a running signalbox, streams included. For
// working on the console without rebuilding the binary; the tests use the
// binary's own /console.
//
//   node tests/console/dev-server.mjs --target http://127.0.0.1:8080 [--port 8090]
//
// The proxy rewrites Host and Origin to the target's: signalbox refuses
// state-changing requests from a foreign Origin, and the page's origin here
// is the dev server's.

import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CONSOLE_DIR = path.resolve(here, '../../console');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

async function serveConsole(req, res, dir) {
  const url = new URL(req.url, 'http://x');
  let rel = decodeURIComponent(url.pathname.replace(/^\/console\/?/, ''));
  if (rel.includes('\0')) rel = '';
  let file = path.resolve(dir, rel || 'index.html');
  if (!file.startsWith(dir + path.sep) && file !== dir) file = path.join(dir, 'index.html');
  let body;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new Error('not a file');
    body = await fs.readFile(file);
  } catch {
    file = path.join(dir, 'index.html');
    body = await fs.readFile(file);
  }
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

function proxy(req, res, target) {
  const t = new URL(target);
  const headers = { ...req.headers, host: t.host };
  if (headers.origin) headers.origin = t.origin;
  delete headers.referer;
  const up = http.request({
    hostname: t.hostname, port: t.port, method: req.method, path: req.url, headers,
  }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    res.flushHeaders(); // event streams: the page learns it is live before the first event
    r.pipe(res);
  });
  up.on('error', (e) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'urn:signalbox:problem:bad-gateway', title: 'Bad gateway', status: 502, detail: `dev server cannot reach ${target}: ${e.message}` }));
    } else res.destroy();
  });
  // A closed browser tab ends the upstream stream too (SSE followers).
  res.on('close', () => up.destroy());
  req.pipe(up);
}

/** Starts the dev server; resolves to {url, close()}. */
export function startDevServer({ target, port = 0, host = '127.0.0.1', dir = CONSOLE_DIR }) {
  const server = http.createServer((req, res) => {
    const p = req.url.split('?')[0];
    if (p === '/console' || p.startsWith('/console/')) {
      serveConsole(req, res, dir).catch((e) => {
        res.writeHead(500);
        res.end(String(e));
      });
    } else {
      proxy(req, res, target);
    }
  });
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const a = server.address();
      resolve({
        url: `http://${host}:${a.port}`,
        close: () => new Promise((r) => {
          server.closeAllConnections?.();
          server.close(() => r());
        }),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const target = arg('target', process.env.SIGNALBOX_SERVER || 'http://127.0.0.1:8080');
  const { url } = await startDevServer({ target, port: Number(arg('port', 8090)) });
  console.log(`console on ${url}/console/ (API proxied to ${target})`);
}
