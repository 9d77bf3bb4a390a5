/**
 * The browser client as single files, for pages without a bundler (`npm run build` writes them to
 * dist/browser/; the gym demo builds them in memory the same way):
 *
 * - `client.min.js`: a minified ES module (`import { connect } from '.../client.min.js'`);
 * - `client.global.min.js`: a classic script defining the global `eventrailClient`;
 * - `client.worker.min.js`: the SharedWorker script of `connect({ share: true })`, which both
 *   find beside themselves.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';

/** The worker script's file name; the bundles look for it beside themselves. */
export const WORKER_FILE = 'client.worker.min.js';
/** The global the classic script defines. */
export const GLOBAL_NAME = 'eventrailClient';

const CLIENT = fileURLToPath(new URL('../src/client/', import.meta.url));

const common: BuildOptions = {
  bundle: true,
  minify: true,
  write: false,
  target: 'es2020',
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'silent',
  define: { EVENTRAIL_WORKER_FILE: JSON.stringify(WORKER_FILE) },
};

/** Builds the three files; resolves with their bytes by file name. */
export async function bundleClient(): Promise<Map<string, Uint8Array>> {
  const one = async (file: string, options: BuildOptions): Promise<[string, Uint8Array]> => {
    const result = await build({ ...common, ...options, outfile: file });
    const output = result.outputFiles?.[0];
    if (output === undefined) throw new Error(`esbuild wrote nothing for ${file}`);
    return [file, output.contents];
  };
  return new Map(
    await Promise.all([
      one('client.min.js', { entryPoints: [`${CLIENT}index.ts`], format: 'esm' }),
      one('client.global.min.js', {
        entryPoints: [`${CLIENT}index.ts`],
        format: 'iife',
        globalName: GLOBAL_NAME,
        // A classic script has no import.meta: it finds the worker beside its own <script src>.
        define: { ...common.define, EVENTRAIL_CLASSIC: 'true' },
        logOverride: { 'empty-import-meta': 'silent' },
      }),
      one(WORKER_FILE, { entryPoints: [`${CLIENT}worker.ts`], format: 'iife' }),
    ]),
  );
}

// `node --import tsx scripts/bundle-client.ts [outdir]`: what `npm run build` runs.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outdir = new URL(`../${process.argv[2] ?? 'dist/browser'}/`, import.meta.url);
  await mkdir(outdir, { recursive: true });
  for (const [file, bytes] of await bundleClient()) {
    await writeFile(new URL(file, outdir), bytes);
    // On stderr: `npm pack --json` runs the build and its stdout must stay JSON.
    console.error(`${fileURLToPath(new URL(file, outdir))}: ${bytes.length} bytes`);
  }
}
