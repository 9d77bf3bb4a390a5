/**
 * Where a stream opened now would start: the scopes' newest positions, read once per scope at the
 * same time, and the SSE id that carries them. The server's stream opening (its hello's id) and
 * `SseServer.lastEventId()` (a page's render position) both come through here, so the two are the
 * same thing: an id a stream can resume from.
 */
import { IncomingMessage } from 'node:http';
import { Http2ServerRequest } from 'node:http2';
import { fetchRequest } from '../adapters/fetch.js';
import { nodeRequest } from '../adapters/node.js';
import { EventrailError, isEventrailError } from '../errors.js';
import { buildRouteTable } from '../fanout/routes.js';
import { checkedPrincipal, resolvePrincipal } from '../principal.js';
import type { Principal, PrincipalResolver, Router, SseRequest } from '../types.js';
import { abortable } from '../util/abortable.js';
import {
  allPositions,
  formatEventId,
  type Position,
  positionMarks,
  scopeTag,
} from '../wire/event-ids.js';

/** Reads the newest position of one scope (undefined without a history). */
export type PositionRead = (scopeKey: string) => Promise<Position | undefined>;

/**
 * The newest positions of the scopes `keys`, in their order, or undefined when one has none. Every
 * read starts at once: on Redis they go out together, one round trip (per shard on a cluster).
 */
export async function readPositions(
  keys: readonly string[],
  read: PositionRead,
): Promise<Position[] | undefined> {
  return allPositions(await Promise.all(keys.map(read)));
}

/**
 * Where a stream being opened starts: `resume` (the positions of its Last-Event-ID), else the
 * newest positions of its scopes `keys`. Rejects when they cannot be read before `signal` aborts,
 * or fail to be: the request is then told to retry, rather than opened without ids it could
 * resume from.
 */
export async function openingPositions(
  keys: readonly string[],
  resume: Position[] | undefined,
  read: PositionRead,
  signal: AbortSignal,
): Promise<Position[] | undefined> {
  if (resume) return resume.slice();
  const reading = readPositions(keys, read);
  // Read on in the background when the wait is over: its failure then has nobody to tell.
  reading.catch(() => {});
  return abortable(
    reading,
    signal,
    (positions) => positions,
    () => {},
  );
}

/** The SSE id of a stream over the sorted scopes `keys` standing at `positions`. */
function startEventId(keys: readonly string[], positions: readonly Position[]) {
  return formatEventId(scopeTag(keys), positionMarks(positions));
}

/** What `lastEventId()` is given: a principal, or a request to resolve like a stream's. */
export type PositionSubject<P extends Principal> =
  | P
  | Request
  | IncomingMessage
  | Http2ServerRequest;

/** What the render position needs from the server. */
export interface StartPositionContext<P extends Principal> {
  readonly resolver: PrincipalResolver<P>;
  readonly router: Router<P>;
  readonly maxRoutes: number;
  /** Undefined when the broker keeps no history: streams then carry no ids. */
  readonly read: PositionRead | undefined;
}

function requestOf<P extends Principal>(who: PositionSubject<P>): SseRequest | undefined {
  if (who instanceof Request) return fetchRequest(who);
  if (who instanceof IncomingMessage || who instanceof Http2ServerRequest) return nodeRequest(who);
  return undefined;
}

/**
 * `SseServer.lastEventId`: the id a stream of `who` opened now would start from, or undefined
 * when there is none (the broker keeps no history, the principal has no routes, or the id of its
 * scopes would be too long for the wire).
 * @throws {@link EventrailError} `unauthorized` (the resolver refused the request),
 * `invalid-pattern` or `limit-exceeded` (the router's answer), `broker-error` (a position could
 * not be read)
 */
export async function startPosition<P extends Principal>(
  context: StartPositionContext<P>,
  who: PositionSubject<P>,
): Promise<string | undefined> {
  const request = requestOf(who);
  const principal =
    request === undefined
      ? checkedPrincipal(who as P)
      : await resolvePrincipal(context.resolver, request);
  const { table } = buildRouteTable(context.router(principal), context.maxRoutes);
  const read = context.read;
  if (read === undefined || table.size === 0) return undefined;
  const keys = [...table.keys()].sort();
  let positions: Position[] | undefined;
  try {
    positions = await readPositions(keys, read);
  } catch (err) {
    if (isEventrailError(err)) throw err;
    throw new EventrailError('broker-error', 'The scopes’ positions could not be read.', {
      cause: err,
    });
  }
  return positions && startEventId(keys, positions);
}
