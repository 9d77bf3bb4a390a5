/** Whatever was thrown, as an Error (a thrown string or object is wrapped, never lost). */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
