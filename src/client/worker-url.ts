/** Where the SharedWorker script of a shared stream is, by default: beside this code. */
import type { WorkerScript } from './share.js';

/**
 * Set by the bundles (`npm run build`, scripts/bundle-client.ts): the worker script's file name
 * beside them, and in the classic script build, which has no `import.meta`, `true`.
 */
declare const EVENTRAIL_WORKER_FILE: string | undefined;
declare const EVENTRAIL_CLASSIC: boolean | undefined;

/** The URL this code was loaded from, read once while it runs for the first time. */
const here: string | undefined =
  typeof EVENTRAIL_CLASSIC === 'boolean'
    ? (globalThis.document?.currentScript as HTMLScriptElement | null | undefined)?.src
    : import.meta.url;

/** The default worker: the bundled classic script, or `worker.js` as a module beside the modules. */
export function defaultWorker(): WorkerScript | undefined {
  const bundled = typeof EVENTRAIL_WORKER_FILE === 'string' ? EVENTRAIL_WORKER_FILE : undefined;
  if (!here) return undefined;
  return bundled === undefined
    ? { url: new URL('./worker.js', here), type: 'module' }
    : { url: new URL(`./${bundled}`, here), type: 'classic' };
}
