import { EventrailError } from '../errors.js';

/**
 * An option that counts something (ms, bytes, events): `fallback` when it is not given, else a
 * whole number of at least `min`, or `invalid-option` naming the option and what it got.
 */
export function wholeNumber(
  name: string,
  value: number | undefined,
  fallback: number,
  min = 0,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new EventrailError(
      'invalid-option',
      `${name} must be a whole number >= ${min}, got ${String(value)}.`,
    );
  }
  return value;
}
