/**
 * The package as npm ships it. `npm pack` (whose prepack builds dist/) makes the tarball; it is
 * unpacked where a consumer's node_modules would hold it, and a plain `node` process, without
 * the eventrail-src condition the other tests use, imports every export and streams one event.
 * The rest of the suite runs on src/: only this test sees what users install.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PACK_AND_INSTALL_MS, TYPECHECK_CONSUMER_MS } from './helpers/budgets.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

/** What the consumer prints: each export's names, then what its one stream received. */
interface ConsumerReport {
  /** Where `eventrail` resolved to: the unpacked tarball, not this repository. */
  resolved: string;
  exports: Record<string, string[]>;
  received: string;
  /** What `clientFiles()`, with its default folder, answered for each file: status, type, bytes. */
  files: Record<string, [number, string | null, number]>;
}

// Plain JavaScript, as a consumer's code that only has the tarball: every export of the
// package's map, then a server on the memory broker, one stream, one published event.
const CONSUMER = `
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { clientFiles, createSseServer } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';

const pkg = JSON.parse(readFileSync(new URL('./node_modules/eventrail/package.json', import.meta.url), 'utf8'));
const exports = {};
for (const key of Object.keys(pkg.exports)) {
  if (key === './package.json') continue;
  // The browser bundles (client.min.js, ...) are files to serve, checked by the tarball test.
  if (key.endsWith('.js')) continue;
  const specifier = key === '.' ? 'eventrail' : 'eventrail/' + key.slice(2);
  exports[specifier] = Object.keys(await import(specifier)).sort();
}

const sse = createSseServer({
  broker: createMemoryBroker(),
  resolver: () => ({ userId: 1, scopeId: 7 }),
  router: (principal) => ['gym:' + principal.scopeId + ':*'],
  eventNamePrefix: 'app',
});
const client = clientFiles();
const server = createServer(async (req, res) => {
  if (await client.handler(req, res)) return;
  void sse.handler(req, res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const response = await fetch('http://127.0.0.1:' + server.address().port + '/events');
const reader = response.body.getReader();
const decoder = new TextDecoder();
let received = '';
let published = false;
while (!received.includes('app.students.changed')) {
  const { value, done } = await reader.read();
  if (done) break;
  received += decoder.decode(value, { stream: true });
  if (!published && received.includes('eventrail.connected')) {
    published = true;
    await sse.publisher.publishEvent('gym:7:students', { eventType: 'students.changed', data: { id: 123 } });
  }
}
await reader.cancel();
const files = {};
for (const file of ['client.min.js', 'client.global.min.js', 'client.worker.min.js']) {
  const answer = await fetch('http://127.0.0.1:' + server.address().port + '/eventrail/' + file);
  files[file] = [answer.status, answer.headers.get('content-type'), (await answer.arrayBuffer()).byteLength];
}
await sse.close();
server.close();
console.log(JSON.stringify({ resolved: import.meta.resolve('eventrail'), exports, received, files }));
`;

// TypeScript, as a consumer's code would use the published types: every export, strict, and the
// types' own declarations checked too (skipLibCheck off). The @ts-expect-error lines fail the
// check if a type were `any` (their error would not happen).
const TYPED_CONSUMER = `
import { createServer } from 'node:http';
import { type Broker, createPublisher, createSseServer, EventrailError, type Principal } from 'eventrail';
import { connect } from 'eventrail/client';
import { fastifyHandler } from 'eventrail/fastify';
import { honoHandler } from 'eventrail/hono';
import { koaMiddleware } from 'eventrail/koa';
import { createMemoryBroker } from 'eventrail/memory';
import { createMetrics } from 'eventrail/metrics';
import { openTelemetry } from 'eventrail/opentelemetry';
import { createRedisBroker } from 'eventrail/redis';

const broker: Broker = process.env.REDIS_URL
  ? createRedisBroker({ url: process.env.REDIS_URL })
  : createMemoryBroker();
const sse = createSseServer({
  broker,
  resolver: (): Principal => ({ userId: 1, scopeId: 1 }),
  router: (principal) => ['gym:' + principal.scopeId + ':*'],
});
createServer((req, res) => void sse.handler(req, res));
const publisher = createPublisher({ broker });
await publisher.publishEvent('gym:1:students', { eventType: 'students.changed', data: { id: 1 } });
// @ts-expect-error an event needs its type
await publisher.publishEvent('gym:1:students', { data: {} });
const error: unknown = null;
if (error instanceof EventrailError) {
  const code: string = error.code;
  // @ts-expect-error a code is one of the documented ones
  const wrong: typeof error.code = 'no-such-code';
  void code;
  void wrong;
}
const connection = connect({ url: '/events' });
connection.close();
void [fastifyHandler(sse), honoHandler(sse), koaMiddleware(sse), createMetrics, openTelemetry];
`;

let dir = '';
let packageDir = '';
let report: ConsumerReport;

// Packing builds dist/ (tsc, esbuild): the heaviest step of the suite, with a budget of its own.
before(
  async () => {
    // Inside the repository, so that the unpacked package finds its peers (redis, fastify, ...)
    // in the repository's node_modules as an application's would be found: no network needed.
    dir = mkdtempSync(path.join(root, '.pack-test-'));
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--json'], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    assert.ok(packed, 'npm pack reported no tarball');
    mkdirSync(path.join(dir, 'node_modules'));
    await run('tar', [
      '-xzf',
      path.join(dir, packed.filename),
      '-C',
      path.join(dir, 'node_modules'),
    ]);
    packageDir = path.join(dir, 'node_modules', 'eventrail');
    renameSync(path.join(dir, 'node_modules', 'package'), packageDir);
    // A package of its own: without it the repository's package.json would be the consumer's scope,
    // and `eventrail` would resolve to the repository itself (a package may import itself by name).
    writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    writeFileSync(path.join(dir, 'consumer.mjs'), CONSUMER);
    writeFileSync(path.join(dir, 'consumer.ts'), TYPED_CONSUMER);
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          types: ['node'],
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['consumer.ts'],
      }),
    );
    const consumer = await run(process.execPath, ['consumer.mjs'], { cwd: dir, timeout: 60_000 });
    report = JSON.parse(consumer.stdout) as ConsumerReport;
  },
  { timeout: PACK_AND_INSTALL_MS },
);

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds the built files of every export, types included, and the licence', () => {
  const pkg = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    exports: Record<string, string | Record<string, string>>;
  };
  const targets = Object.entries(pkg.exports).flatMap(([key, target]) =>
    typeof target === 'string'
      ? [[key, target]]
      : Object.entries(target)
          .filter(([condition]) => condition !== 'eventrail-src')
          .map(([, file]) => [key, file]),
  );
  assert.ok(targets.length >= 18, `only ${targets.length} export targets`);
  const missing = targets.filter(([, file]) => !existsSync(path.join(packageDir, file ?? '')));
  assert.deepEqual(missing, [], 'export targets missing from the tarball');
  for (const file of ['README.md', 'CHANGELOG.md', 'LICENSE']) {
    assert.ok(existsSync(path.join(packageDir, file)), `${file} missing from the tarball`);
  }
});

test('every export loads from dist/ in plain node, with its public names', () => {
  assert.equal(
    fileURLToPath(report.resolved),
    path.join(packageDir, 'dist', 'index.js'),
    'eventrail did not resolve to the unpacked tarball',
  );
  const names = Object.keys(report.exports).sort();
  assert.deepEqual(names, [
    'eventrail',
    'eventrail/client',
    'eventrail/cluster',
    'eventrail/fastify',
    'eventrail/hono',
    'eventrail/koa',
    'eventrail/memory',
    'eventrail/metrics',
    'eventrail/opentelemetry',
    'eventrail/redis',
  ]);
  for (const [specifier, exported] of Object.entries(report.exports)) {
    assert.ok(exported.length > 0, `${specifier} exports nothing`);
  }
  for (const name of ['createSseServer', 'createPublisher', 'EventrailError']) {
    assert.ok(report.exports.eventrail?.includes(name), `eventrail lacks ${name}`);
  }
  assert.ok(report.exports['eventrail/memory']?.includes('createMemoryBroker'));
  assert.ok(report.exports['eventrail/redis']?.includes('createRedisBroker'));
});

test('a server built from the tarball streams a published event', () => {
  assert.match(report.received, /event: eventrail\.connected\n/);
  assert.match(report.received, /event: app\.students\.changed\ndata: \{"id":123\}\n/);
});

test('clientFiles() serves the browser files of the installed package', () => {
  for (const file of ['client.min.js', 'client.global.min.js', 'client.worker.min.js']) {
    const size = readFileSync(path.join(packageDir, 'dist', 'browser', file)).length;
    assert.deepEqual(report.files[file], [200, 'text/javascript; charset=utf-8', size], file);
  }
});

test('a strict TypeScript consumer compiles against the published types', {
  timeout: TYPECHECK_CONSUMER_MS,
}, async () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  // Its exit code and both streams: a tsc that fails on stderr alone (a crash, a missing module)
  // must not pass.
  const result = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(
    ({ stdout, stderr }) => ({ code: 0, output: `${stdout}${stderr}`.trim() }),
    (err: { code?: number; stdout?: string; stderr?: string; message: string }) => ({
      code: err.code ?? -1,
      output: `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() || err.message,
    }),
  );
  assert.deepEqual(result, { code: 0, output: '' }, 'tsc reported errors');
});
