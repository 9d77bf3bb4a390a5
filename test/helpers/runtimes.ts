/**
 * The runtimes besides node that the examples run on: Bun and Deno, pinned and installed into
 * .runtimes/ by scripts/runtimes.sh (npm packages that ship the binaries, outside package-lock).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { missingTool } from './ci.js';

/** A runtime that runs an example's TypeScript source as it is. */
export interface Runtime {
  readonly name: 'node' | 'bun' | 'deno';
  /** The command line that runs `file` (a path relative to the repository), before any argument. */
  command(file: string): string[];
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/** node with tsx, as `npm run example:<name>` runs it. */
export const NODE: Runtime = {
  name: 'node',
  command: (file) => [process.execPath, '--conditions=eventrail-src', '--import', 'tsx', file],
};

const BUN_BIN = `${root}.runtimes/bun/bin/bun`;
const DENO_BIN = `${root}.runtimes/deno/deno`;

/** Bun: reads TypeScript, package.json's `exports` conditions and node_modules as node does. */
export const BUN: Runtime = {
  name: 'bun',
  command: (file) => [BUN_BIN, '--conditions=eventrail-src', file],
};

/**
 * Deno: `--sloppy-imports` maps this repository's `.js` imports to its `.ts` files; `-A` for the
 * network and the environment.
 */
export const DENO: Runtime = {
  name: 'deno',
  command: (file) => [
    DENO_BIN,
    'run',
    '-A',
    '--sloppy-imports',
    '--conditions=eventrail-src',
    file,
  ],
};

/** Why the tests of `runtime` skip (missing binary), or undefined; throws under CI. */
export function runtimeSkipReason(runtime: Runtime): string | undefined {
  if (runtime.name === 'node') return undefined;
  const bin = runtime.name === 'bun' ? BUN_BIN : DENO_BIN;
  if (existsSync(bin)) return undefined;
  return missingTool(
    runtime.name,
    `${bin} is missing`,
    'Run `bash scripts/runtimes.sh` (it installs the pinned Bun and Deno into .runtimes/).',
  );
}
