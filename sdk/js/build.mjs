#!/usr/bin/env node
// Builds a Signalbox plugin written in JavaScript into a WebAssembly component.
//
//   node sdk/js/build.mjs <plugin.js> --world filter|lazy-filter|transform -o <out.wasm> [--wit <dir>] [--quiet]
//
// 1. esbuild bundles the plugin module with everything it imports (the SDK
//    as `@signalbox/plugin-sdk`, relative modules, pure-JS npm packages in
//    the plugin's node_modules) behind a generated entry that wraps the
//    plugin's exports for the world (src/world.js);
// 2. componentize-js (SpiderMonkey, pre-initialised with wizer) turns the
//    bundle into a component of `signalbox:plugin/<world>@0.1.1`, with the
//    `http` and `fetch-event` features disabled (plugins other than
//    connectors may not import wasi:http) and `stdio` (console.log to the
//    Signalbox log), `clocks` (Date) and `random` (crypto) kept.
//
// Works offline once `npm ci` has run in sdk/js. The jco CLI's
// `componentize` is not used: on this toolchain it cannot read a WIT folder.

import { mkdtemp, rm, writeFile, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SDK_DIR = dirname(fileURLToPath(import.meta.url));
const WORLDS = { filter: 'exportFilter', 'lazy-filter': 'exportLazyFilter', transform: 'exportTransform' };
/** Each world's entry point, as componentize-js names the export. */
const ENTRY = { filter: 'keep', 'lazy-filter': 'keepLazy', transform: 'transform' };

function usage(message) {
  if (message) console.error(`error: ${message}`);
  console.error('usage: node sdk/js/build.mjs <plugin.js> --world filter|lazy-filter|transform -o <out.wasm> [--wit <dir>] [--quiet]');
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      world: { type: 'string', short: 'w' },
      out: { type: 'string', short: 'o' },
      wit: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (e) {
  usage(e.message);
}
const { values, positionals } = parsed;
if (values.help) usage();
if (positionals.length !== 1) usage('give exactly one plugin module');
if (!values.world) usage('--world is required');
if (values.world === 'connector') {
  usage('connectors cannot be written in JavaScript yet (fetch is asynchronous, plugin calls are not); write them in Rust');
}
if (!(values.world in WORLDS)) usage(`unknown world '${values.world}': use filter, lazy-filter or transform`);
if (!values.out) usage('-o <out.wasm> is required');

const entry = resolve(positionals[0]);
const out = resolve(values.out);
const wit = resolve(values.wit ?? join(SDK_DIR, '..', '..', 'wit'));
for (const [what, path] of [['plugin module', entry], ['WIT folder', wit]]) {
  try {
    await stat(path);
  } catch {
    usage(`${what} ${path} does not exist`);
  }
}

const started = Date.now();
const { build } = await import('esbuild');
const { componentize } = await import('@bytecodealliance/componentize-js');

const wrapper = WORLDS[values.world];
const lazy = values.world === 'lazy-filter';
const entrySource = `
import * as plugin from ${JSON.stringify(entry)};
import { ${wrapper} } from ${JSON.stringify(join(SDK_DIR, 'src', 'world.js'))};
${lazy ? "import * as lazy from 'signalbox:plugin/lazy@0.1.1';" : ''}
const world = ${wrapper}(plugin${lazy ? ', lazy' : ''});
export const init = world.init;
export const ${ENTRY[values.world]} = world.${ENTRY[values.world]};
`;
let bundle;
try {
  const result = await build({
    stdin: { contents: entrySource, resolveDir: dirname(entry), sourcefile: 'signalbox-entry.js', loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    // The contract's own imports are resolved by componentize-js.
    external: ['signalbox:plugin/*'],
    alias: { '@signalbox/plugin-sdk': join(SDK_DIR, 'src', 'index.js') },
    logLevel: 'silent',
    legalComments: 'none',
  });
  bundle = result.outputFiles[0].text;
} catch (e) {
  const errors = e.errors?.map((m) => `${m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : ''}${m.text}`) ?? [e.message];
  console.error(`error: bundling ${entry} failed:\n  ${errors.join('\n  ')}`);
  process.exit(1);
}

// componentize-js maps the source file's folder into the build sandbox, so
// the bundle gets a folder of its own.
const work = await mkdtemp(join(tmpdir(), 'signalbox-js-'));
try {
  const source = join(work, 'plugin.js');
  await writeFile(source, bundle);
  const { component } = await componentize({
    sourcePath: source,
    witPath: wit,
    worldName: values.world,
    disableFeatures: ['http', 'fetch-event'],
  });
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, component);
  if (!values.quiet) {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.error(`built ${out} (${values.world}, ${(component.length / 1e6).toFixed(1)} MB) in ${secs} s`);
  }
} catch (e) {
  console.error(`error: componentize-js failed for ${entry}:\n${e.message ?? e}`);
  process.exitCode = 1;
} finally {
  await rm(work, { recursive: true, force: true });
}
