import { randomFillSync } from 'node:crypto';

/** Random bytes per connection id: 96 bits, as unguessable as a session token needs. */
const ID_BYTES = 12;
/** Ids drawn from one fill of the pool: one call into the CSPRNG per 256 connections. */
const POOL_IDS = 256;

const pool = Buffer.alloc(ID_BYTES * POOL_IDS);
let next = POOL_IDS;

/**
 * A new connection id: 12 bytes from the CSPRNG as 16 characters of base64url. Anyone who knows
 * a connection's id can make events skip it (the origin feature), so ids must not be guessable
 * from other ids; the bytes come from a pool refilled by `randomFillSync`, which costs far less
 * per id than `randomBytes` and leaves nothing behind.
 */
export function connectionId(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const at = next++ * ID_BYTES;
  return pool.toString('base64url', at, at + ID_BYTES);
}
