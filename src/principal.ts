/**
 * The principal of a request, as a stream request resolves it: used by the request pipeline,
 * `lastEventId()` and the fleet's re-authorization alike.
 */
import { EventrailError } from './errors.js';
import type { Principal, PrincipalResolver, SseRequest } from './types.js';

/**
 * Runs the resolver as a stream request does: a refusal (a throw, or no principal) becomes
 * `unauthorized`, with the resolver's error as its cause.
 * @throws {@link EventrailError} `unauthorized`
 */
export async function resolvePrincipal<P extends Principal>(
  resolver: PrincipalResolver<P>,
  request: SseRequest,
): Promise<P> {
  let principal: P;
  try {
    principal = await resolver(request);
  } catch (err) {
    throw refused(err);
  }
  return checkedPrincipal(principal);
}

function refused(cause: unknown): EventrailError {
  return new EventrailError('unauthorized', 'The principal resolver refused a request.', { cause });
}

/** `principal`, unless it is none (null, or not an object). */
export function checkedPrincipal<P extends Principal>(principal: P): P {
  if (principal === null || typeof principal !== 'object')
    throw refused(new Error('The resolver returned no principal.'));
  return principal;
}
