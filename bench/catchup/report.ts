/** The catch-up scenario's section of bench.md: replay rates against the floor, and the storm. */
import type { CatchUpResult, ReplayRates } from './scenario.js';
import { DEPTH } from './scenario.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * The target (docs/benchmark.md): eventrail replays at this share of the floor's events/s or
 * better, to one client and to the crowd. The floor writes the bytes of a whole replay in one
 * call from memory; eventrail reads them from Redis in pages, decodes, checks and frames each event,
 * and writes as the client drains.
 */
export const CATCH_UP_TARGET = 0.25;

function verdict(what: string, ours: number, floor: number, quick: boolean): string {
  const ratio = floor > 0 ? ours / floor : 0;
  const result = quick ? 'quick run, no verdict' : ratio >= CATCH_UP_TARGET ? 'PASS' : 'FAIL';
  return `- ${result}: ${what} = **${ratio.toFixed(2)}x** the floor (target >= ${CATCH_UP_TARGET}x)`;
}

const row = (name: string, r: ReplayRates): string =>
  `| ${name} | ${int(r.onePerSec)} | ${int(r.crowdPerSec)} | ${r.crowd.done} of ${r.crowd.clients} in ${int(r.crowd.ms)} ms |`;

export function catchUpSection(result: CatchUpResult | undefined, quick: boolean): string[] {
  if (result === undefined) return [];
  const { sizes, eventrail, floor, storm } = result;
  return [
    `## Catch-up: replay of ${int(DEPTH)} events to clients that come back with a Last-Event-ID`,
    '',
    `- One scope, ${int(DEPTH)} events of ~200 B in its history (the default size), replayed whole: ${int(result.bytesPerReplay)} B a stream. eventrail on a Redis broker with its defaults (the replay read in pages of 256 and written as the client drains); the floor is bare node:http writing the same bytes (captured from eventrail's first replay) from memory in one write.`,
    `- One client: ${sizes.repeats} replays one after the other, each a new connection read to its last event. Crowd: ${int(sizes.crowd)} clients at once (connections opened in batches of 500), from the first connect to the last event of the last client. Clients: raw HTTP/1.0 sockets in the bench process counting SSE blocks.`,
    '',
    '| system | events/s, one client | events/s, crowd | crowd done |',
    '| --- | --- | --- | --- |',
    row('eventrail', eventrail),
    row('floor (node:http)', floor),
    '',
    verdict('one client', eventrail.onePerSec, floor.onePerSec, quick),
    verdict(`${int(sizes.crowd)} clients at once`, eventrail.crowdPerSec, floor.crowdPerSec, quick),
    '',
    `Reconnect storm: ${int(storm.clients)} clients ${storm.behind} events behind at once: ${storm.done} caught up in ${int(storm.ms)} ms; Redis ran ${int(storm.commands)} commands (${(storm.commands / storm.clients).toFixed(3)} per client), ${int(storm.xrange)} of them XRANGE.`,
    '',
  ];
}
