/**
 * The docs must not drift from the code: every default in docs/reference.md's option tables is the
 * constant the code uses, and every constant has its row; every export is named in the reference;
 * every code block of README.md and docs/ meant to run names its file and type-checks against the
 * package, strict and with `exactOptionalPropertyTypes` (test/docs-run.test.ts runs the runnable
 * ones); every `npm run` script they name exists; every relative link resolves.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as eventrail from 'eventrail';
import { LIMIT_DEFAULTS } from '../src/limits.js';
import { DEFAULTS } from '../src/options.js';
import { blockFolder, blocksOf, docFiles, typeCheck } from './helpers/doc-blocks.js';

const reference = readFileSync(new URL('../docs/reference.md', import.meta.url), 'utf8');

/** `| \`name\` | \`value\` ... |` rows: option name -> the first code span of its default cell. */
function documentedDefaults(markdown: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of markdown.split('\n')) {
    const match = /^\| `(\w+)` \| `([^`]*)`/.exec(line);
    if (match) rows.set(match[1] as string, match[2] as string);
  }
  return rows;
}

/** A default as the docs write it: numbers without separators, strings quoted. */
function asWritten(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

describe('docs/reference.md', () => {
  const rows = documentedDefaults(reference);

  it('states every server default and limit as the code has it', () => {
    const constants: Record<string, unknown> = { ...DEFAULTS, ...LIMIT_DEFAULTS };
    // allowCredentials is documented with allowedOrigins, whose row says what it does.
    const documented = Object.keys(constants).filter((name) => name !== 'allowCredentials');
    for (const name of documented) {
      assert.ok(rows.has(name), `docs/reference.md has no row for ${name}`);
      assert.equal(rows.get(name), asWritten(constants[name]), `default of ${name}`);
    }
  });

  it('documents no option default that the code does not know', () => {
    const known = new Set([...Object.keys(DEFAULTS), ...Object.keys(LIMIT_DEFAULTS)]);
    // Options with a default that is not a constant of the server (required, or "none").
    const prose = [
      'broker',
      'resolver',
      'router',
      'signal',
      'headers',
      'encoder',
      'hooks',
      'logger',
      'tracing',
      'allowedOrigins',
    ];
    for (const [name, value] of rows) {
      if (known.has(name) || prose.includes(name)) continue;
      assert.fail(`docs/reference.md gives ${name} the default ${value}, which no constant has`);
    }
  });
});

describe('the public API in docs/reference.md', () => {
  it('names every export of eventrail', () => {
    // Types leave no runtime name; the values are what the reference must list.
    const unnamed = Object.keys(eventrail).filter((name) => !reference.includes(`\`${name}`));
    assert.deepEqual(unnamed, [], 'exports docs/reference.md does not name');
  });
});

describe('code blocks of README.md and docs/', () => {
  const blocks = docFiles().flatMap((doc) => blocksOf(doc));

  it('name the file they are, when they are code (```ts file.ts), so that they are checked', () => {
    const unnamed = blocks
      .filter((b) => ['ts', 'js', 'mjs', 'html', 'tsx'].includes(b.lang) && b.file === undefined)
      .map((b) => `${b.doc}:${b.line}`);
    assert.deepEqual(unnamed, [], 'code blocks without a file name');
    const names = blocks.flatMap((b) => (b.file === undefined ? [] : [b.file]));
    assert.equal(new Set(names).size, names.length, `a file name used twice: ${names}`);
    for (const file of ['quick-start.ts', 'worker.mjs', 'page.html']) {
      assert.ok(names.includes(file), `README.md has no block named ${file}`);
    }
  });

  it('type-check against the package: strict, exactOptionalPropertyTypes', () => {
    const folder = blockFolder();
    try {
      assert.deepEqual(typeCheck(blocks, folder), [], 'type errors in the docs');
    } finally {
      folder.remove();
    }
  });

  it('run only npm scripts that exist', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const doc of docFiles()) {
      const text = readFileSync(new URL(`../${doc}`, import.meta.url), 'utf8');
      for (const [, name] of text.matchAll(/npm run ([\w:-]+)/g)) {
        assert.ok(name && name in pkg.scripts, `${doc} names npm run ${name}: no such script`);
      }
    }
  });
});

const root = fileURLToPath(new URL('..', import.meta.url));

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1] as string)));
}

describe('markdown links', () => {
  const files = [
    'README.md',
    'SECURITY.md',
    'CHANGELOG.md',
    ...readdirSync(path.join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
    'examples/README.md',
    'examples/gym/README.md',
  ];
  for (const file of files) {
    it(`${file}: every relative link and anchor exists`, () => {
      const full = path.join(root, file);
      const text = readFileSync(full, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target === undefined || /^[a-z]+:/i.test(target)) continue;
        const [where, anchor] = target.split('#') as [string, string | undefined];
        const linked = where === '' ? full : path.resolve(path.dirname(full), where);
        assert.ok(existsSync(linked), `${file} links to ${target}: no such file`);
        if (anchor && linked.endsWith('.md')) {
          assert.ok(anchors(linked).has(anchor), `${file} links to ${target}: no such heading`);
        }
      }
    });
  }
});
