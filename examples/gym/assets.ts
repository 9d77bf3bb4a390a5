/**
 * Static files of the demo, loaded once at startup: htmx from node_modules (no CDN), the stylesheet,
 * and the browser client `eventrail/client`, transpiled from src/client/*.ts on the fly so that the
 * demo needs no build step (type-only syntax is stripped; the output is plain ES2022 modules).
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import ts from 'typescript';

/** A file ready to serve. */
export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

const JS = 'text/javascript; charset=utf-8';
const CLIENT_DIR = new URL('../../src/client/', import.meta.url);

async function clientModules(): Promise<Map<string, Asset>> {
  const modules = new Map<string, Asset>();
  for (const file of await readdir(CLIENT_DIR)) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const source = await readFile(new URL(file, CLIENT_DIR), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ES2022,
        verbatimModuleSyntax: true,
        removeComments: false,
      },
    });
    modules.set(`/assets/client/${file.replace(/\.ts$/, '.js')}`, {
      body: Buffer.from(outputText),
      type: JS,
    });
  }
  return modules;
}

/** Every asset by URL path. */
export async function loadAssets(): Promise<Map<string, Asset>> {
  const require = createRequire(import.meta.url);
  const assets = await clientModules();
  // One stable URL for pages; the modules it re-exports load relative to it.
  assets.set('/assets/eventrail-client.js', {
    body: Buffer.from("export * from './client/index.js';\n"),
    type: JS,
  });
  assets.set('/assets/htmx.min.js', {
    body: await readFile(require.resolve('htmx.org/dist/htmx.min.js')),
    type: JS,
  });
  assets.set('/assets/gym.css', {
    body: await readFile(new URL('./public/gym.css', import.meta.url)),
    type: 'text/css; charset=utf-8',
  });
  return assets;
}
