/**
 * The Go original as a peer of the fan-out scenario: built from test/go (the module the
 * interop test builds, go.sum pinned) once per run, skipped loudly when `go` is missing.
 */
import { buildGoInterop, type GoBuild, goAvailable } from '../test/helpers/go.js';
import { GO_ORIGINAL, type SystemSpec } from './catalog.js';

/** A first build downloads and compiles the Go eventrail and go-redis; Go's cache makes the next fast. */
const BUILD_TIMEOUT_MS = 300_000;

/**
 * Builds the Go original when it is among `wanted` and `go` is on PATH; its path goes to the
 * system servers through GO_BINARY. Resolves with the specs to run and a cleanup.
 */
export async function prepareGo(
  wanted: boolean,
): Promise<{ specs: SystemSpec[]; remove: () => void }> {
  const none = { specs: [], remove: () => {} };
  if (!wanted) return none;
  if (!goAvailable) {
    console.error('bench: go not found on PATH: the Go original is left out of the fan-out');
    return none;
  }
  let build: GoBuild;
  try {
    build = await buildGoInterop(BUILD_TIMEOUT_MS);
  } catch (err) {
    console.error(`bench: the Go original did not build, left out: ${String(err)}`);
    return none;
  }
  process.env.GO_BINARY = build.binary;
  return { specs: [GO_ORIGINAL], remove: build.remove };
}
