/**
 * The reference must not drift from the code: every default in docs/reference.md's option tables
 * is the constant the code uses, and every constant has its row.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../src/options.js';
import { LIMIT_DEFAULTS } from '../src/server/limits.js';

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
