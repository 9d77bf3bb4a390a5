/**
 * Whether this run is CI, where a test must not pass by skipping: a tool it needs (redis-server,
 * Chromium, openssl, go) missing is a failure there, and a loud skip elsewhere.
 */

const TRUTHY = new Set(['true', '1', 'yes', 'on']);

/** `CI` set to a truthy value (`true`, `1`, `yes`, `on`, any case): required tests must run. */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return TRUTHY.has((env.CI ?? '').trim().toLowerCase());
}

const warned = new Set<string>();

/**
 * The skip reason for a test that needs `tool`, which is missing because of `reason`.
 * @throws under CI ({@link isCi}), with `reason` and the `install` hint: CI must not pass by skipping.
 */
export function missingTool(tool: string, reason: string, install: string): string {
  if (isCi()) {
    throw new Error(
      `${tool} is required when CI is set (CI=${process.env.CI}), but ${reason}. ${install}`,
    );
  }
  if (!warned.has(tool)) {
    warned.add(tool);
    process.stderr.write(
      `\n!!! SKIPPING the tests that need ${tool}: ${reason} !!!\n` +
        `!!! ${install} Under CI this is a failure. !!!\n\n`,
    );
  }
  return reason;
}
