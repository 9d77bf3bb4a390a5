/**
 * What a history-backed publish adds to the payload it announces live: the entry's history id and
 * the epoch of the history that issued it, as two last fields of the JSON object (readable by the
 * Go eventrail, which ignores them), read back without parsing the JSON.
 */

/** The field a history-backed publish adds to the payload it announces (readable by the Go eventrail). */
export const ANNOUNCED_ID_FIELD = 'eventrail_id';
/** The field after it: the epoch of the history that issued the id (8 hex digits). */
export const ANNOUNCED_EPOCH_FIELD = 'eventrail_epoch';
const ANNOUNCED_TAIL =
  /,"eventrail_id":"(\d{1,16}-\d{1,16})"(?:,"eventrail_epoch":"([0-9a-f]{8})")?}$/;

/** The announced fields of a history entry: its id and, when known, its epoch. */
export interface Announced {
  readonly id: string;
  readonly epoch?: string;
}

/**
 * The payload as announced live: the stored payload (a JSON object) with its history id and
 * epoch added last.
 */
export function withHistoryId(payload: string, id: string, epoch: string): string {
  return `${payload.slice(0, -1)},"${ANNOUNCED_ID_FIELD}":"${id}","${ANNOUNCED_EPOCH_FIELD}":"${epoch}"}`;
}

/**
 * The history id and epoch an announced payload carries, found without parsing the JSON. A
 * payload announced without an epoch (by an older eventrail) gives the id alone.
 */
export function announcedId(payload: string): Announced | undefined {
  if (payload.charCodeAt(payload.length - 1) !== 125 /* } */) return undefined;
  const match = ANNOUNCED_TAIL.exec(payload.slice(-86));
  if (match === null) return undefined;
  const [, id, epoch] = match as unknown as [string, string, string | undefined];
  return epoch === undefined ? { id } : { id, epoch };
}
