/**
 * Runs the suite exactly as `npm test` does (its command is read from package.json), with the spec
 * reporter on stdout and the time per test file (test/helpers/file-times-reporter.ts) written to
 * test-results/test-times.txt, then prints the slowest files. Extra arguments go to node before
 * the test files (e.g. `npm run test:times -- --test-concurrency=2`). Exits as the suite did.
 *
 *   npm run test:times
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SHOWN = 10;
const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};
const command = pkg.scripts.test?.split(/\s+/) ?? [];
if (command[0] !== 'node') throw new Error(`npm test is not a node command: ${pkg.scripts.test}`);
// The options, then the test files (globbed here as the shell does for npm test).
const firstFile = command.findIndex((arg) => arg.startsWith('test/'));
const options = command.slice(1, firstFile);
const files = command
  .slice(firstFile)
  .flatMap((pattern) => (pattern.includes('*') ? glob(pattern) : [pattern]));

function glob(pattern: string): string[] {
  const dir = path.dirname(pattern);
  const [prefix = '', suffix = ''] = path.basename(pattern).split('*');
  return readdirSync(path.join(root, dir))
    .filter((name) => name.startsWith(prefix) && name.endsWith(suffix))
    .sort()
    .map((name) => path.join(dir, name));
}

const outDir = path.join(root, 'test-results');
mkdirSync(outDir, { recursive: true });
const timesFile = path.join(outDir, 'test-times.txt');
const args = [
  ...options,
  ...process.argv.slice(2),
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=./test/helpers/file-times-reporter.mjs',
  `--test-reporter-destination=${timesFile}`,
  ...files,
];
const started = Date.now();
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.once('exit', (code, signal) => {
  const table = readFileSync(timesFile, 'utf8').trimEnd().split('\n');
  const [title = '', ...rows] = table;
  process.stdout.write(
    `\n${title}\n${rows.slice(0, SHOWN).join('\n')}\n` +
      `# whole run: ${((Date.now() - started) / 1000).toFixed(1)} s; every file in ${path.relative(root, timesFile)}\n`,
  );
  process.exitCode = code ?? (signal === null ? 1 : 128);
});
