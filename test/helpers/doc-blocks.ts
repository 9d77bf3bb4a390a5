/**
 * The code blocks of README.md and docs/ that are meant to run: a fence whose info string names a
 * file (` ```ts quick-start.ts `, ` ```js worker.mjs `, ` ```html page.html `). They are written
 * as those files into a folder of the repository (where `eventrail` resolves to the package itself,
 * as a package may import itself by name), beside an app stub and a prelude for the fragments,
 * and type-checked there as a user's code would be: strict, with `exactOptionalPropertyTypes`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One fenced block. */
export interface DocBlock {
  /** `README.md`, `docs/reference.md`, ... */
  readonly doc: string;
  /** The line of its opening fence (1-based). */
  readonly line: number;
  readonly lang: string;
  /** The file it names, or undefined. */
  readonly file: string | undefined;
  readonly code: string;
}

/** README.md and every markdown file of docs/. */
export function docFiles(): string[] {
  const docs = readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

/** Every fenced block of `doc` (a path relative to the repository). */
export function blocksOf(
  doc: string,
  text = readFileSync(path.join(ROOT, doc), 'utf8'),
): DocBlock[] {
  const blocks: DocBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(\S*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end === -1) throw new Error(`${doc}:${i + 1}: a fence that never closes`);
    blocks.push({
      doc,
      line: i + 1,
      lang: open[1] ?? '',
      file: open[2] || undefined,
      code: `${lines.slice(i + 1, end).join('\n')}\n`,
    });
    i = end;
  }
  return blocks;
}

/** The block of `doc` that names `file`. */
export function namedBlock(doc: string, file: string, text?: string): DocBlock {
  const block = blocksOf(doc, text).find((b) => b.file === file);
  if (!block) throw new Error(`${doc} has no block named ${file}`);
  return block;
}

/**
 * What the README's Quick start imports from `./app.js`: a session store reading
 * `cookie: session=<user>.<gym>`, and a data layer that counts the students it adds.
 */
export const APP_STUB = `import type { IncomingMessage } from 'node:http';

export interface Session { userId: string; gymId: string }

export const sessions = {
  async fromCookie(cookie: string | null | undefined): Promise<Session | undefined> {
    const match = /(?:^|;\\s*)session=(\\w+)\\.(\\w+)/.exec(cookie ?? '');
    return match ? { userId: match[1] as string, gymId: match[2] as string } : undefined;
  },
};

let students = 0;
export async function addStudent(_gymId: string, _req: IncomingMessage): Promise<{ id: number }> {
  students += 1;
  return { id: students };
}
`;

/** What the reference's fragments take as given: your broker, resolver, router, hooks, servers, a request. */
const PRELUDE = `declare const broker: import('eventrail').Broker;
declare const resolver: import('eventrail').PrincipalResolver;
declare const router: import('eventrail').Router;
declare const myHooks: import('eventrail').ServerHooks;
declare const httpServer: import('node:http').Server;
declare const createSseServer: typeof import('eventrail').createSseServer;
declare const createPublisher: typeof import('eventrail').createPublisher;
declare const sse: import('eventrail').SseServer;
declare const req: import('node:http').IncomingMessage;
declare const store: { list(gym: number): Promise<string[]> };
declare const gym: number;
`;

/** A folder of the repository (git-ignored) holding the blocks as files; `remove()` deletes it. */
export function blockFolder(): {
  dir: string;
  write(name: string, code: string): string;
  remove(): void;
} {
  const dir = mkdtempSync(path.join(ROOT, '.doc-blocks-'));
  return {
    dir,
    write(name, code) {
      const file = path.join(dir, name);
      writeFileSync(file, code);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The compiler options a strict user might have: strict and `exactOptionalPropertyTypes`. */
const OPTIONS: ts.CompilerOptions = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  // The suite runs on src/: `eventrail` resolves to it through this condition.
  customConditions: ['eventrail-src'],
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
  types: ['node'],
  allowJs: true,
  checkJs: true,
  skipLibCheck: true,
  noEmit: true,
};

/**
 * Type-checks the TypeScript and JavaScript blocks, written into `folder` with the app stub and
 * the prelude. Only their own diagnostics count (src/ is checked by `npm run check`, under the
 * project's own options), so the checker reads of src/ only the declarations the blocks use.
 * Resolves with one line per error, `doc:line: message`, empty when clean.
 */
export function typeCheck(
  blocks: readonly DocBlock[],
  folder: ReturnType<typeof blockFolder>,
): string[] {
  folder.write('app.ts', APP_STUB);
  const prelude = folder.write('prelude.d.ts', PRELUDE);
  const where = new Map<string, DocBlock>();
  for (const block of blocks) {
    if (block.file === undefined || !/\.(ts|mjs|js)$/.test(block.file)) continue;
    // A block without imports would be a script sharing its names with the others: a module.
    const code = /^(import|export) /m.test(block.code) ? block.code : `${block.code}export {};\n`;
    where.set(path.resolve(folder.write(block.file, code)), block);
  }
  const program = ts.createProgram([...where.keys(), prelude], OPTIONS);
  const errors: string[] = [];
  for (const [file, block] of where) {
    const source = program.getSourceFile(file);
    if (!source) throw new Error(`tsc did not read ${file}`);
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    for (const d of diagnostics) {
      const { line } = source.getLineAndCharacterOfPosition(d.start ?? 0);
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      errors.push(`${block.doc}:${block.line + 1 + line}: TS${d.code} ${message}`);
    }
  }
  return errors;
}
