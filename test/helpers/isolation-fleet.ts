/**
 * The fleet's half of the seeded isolation property (test/isolation.test.ts): random joins,
 * leaves and revocations across scopes and two applications (prefixes) on one broker. The same
 * user ids are used in every scope and application, so that a revocation or a roster matched by
 * user id alone shows. After every round, once everything has arrived:
 *
 * - every stream a revocation selected has ended, and no other stream has (checked behind a
 *   barrier event published after the revocations on every scope of every application: control
 *   messages and events of a scope arrive in order, so a stray revocation lands before it);
 * - every instance's `presence(scope)` names exactly the users with streams open in that scope of
 *   its own application, and the last `eventrail.presence` event of every open stream too;
 * - no `eventrail.presence` event a stream ever received names another scope.
 */
import assert from 'node:assert/strict';
import type { StandalonePublisher } from '../../src/index.js';
import type { Principal } from '../../src/types.js';
import type { RunningApp } from './apps.js';
import { seededRandom } from './random.js';
import { openRaw, type RawStream, waitFor } from './sse.js';

/** The scopes streams join: a fleet scope key each, `{scope}:{scope_id}`. */
export const FLEET_SCOPES = ['gym:1', 'gym:2', 'club:1'] as const;
/** The same ids in every scope and application. */
const USERS = ['ann', 'ben', 'cat'] as const;
const BARRIER = 'barrier.tick';

/** `?user=ann&scope=gym:1`: the stream's user and scope, as the request names them. */
export function fleetResolver(request: { url: URL }): Principal {
  const q = request.url.searchParams;
  return { userId: q.get('user') ?? '', scopeId: q.get('scope') ?? '' };
}

/** Every stream is routed to its scope's events: `gym:1:*`. */
export const fleetRouter = (principal: Principal): readonly string[] => [
  `${String(principal.scopeId)}:*`,
];

export interface FleetEnv {
  /** The instances, each serving `fleetResolver`/`fleetRouter` with presence events on. */
  readonly apps: readonly RunningApp[];
  /** The prefix of each instance's broker (its application). */
  readonly prefixes: readonly string[];
  /** A publisher per application (prefix), on a broker of its own. */
  readonly publishers: ReadonlyMap<string, StandalonePublisher>;
}

interface Stream {
  readonly app: number;
  readonly prefix: string;
  readonly scope: string;
  readonly user: string;
  readonly raw: RawStream;
  /** Closed by the client (a leave) or selected by a revocation: expected to end. */
  expectedEnd: boolean;
  ended: boolean;
}

export interface FleetStats {
  joins: number;
  leaves: number;
  revocations: number;
  revoked: number;
}

const presenceOf = (stream: Stream) =>
  stream.raw.events.filter((e) => e.event === 'eventrail.presence');

/** Runs `rounds` rounds of random joins, leaves and revocations from `seed`. */
export async function runFleetIsolation(
  env: FleetEnv,
  rounds: number,
  seed: number,
): Promise<FleetStats> {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const streams: Stream[] = [];
  const stats: FleetStats = { joins: 0, leaves: 0, revocations: 0, revoked: 0 };
  const prefixes = [...env.publishers.keys()];
  const live = () => streams.filter((s) => !s.expectedEnd);
  let barriers = 0;

  async function join(): Promise<void> {
    const app = Math.floor(random() * env.apps.length);
    const scope = pick(FLEET_SCOPES);
    const user = pick(USERS);
    const url = `${env.apps[app]?.url}/events?user=${user}&scope=${encodeURIComponent(scope)}`;
    const raw = await openRaw(url);
    assert.equal(raw.status, 200, `${url} opened`);
    const stream: Stream = {
      app,
      prefix: env.prefixes[app] ?? '',
      scope,
      user,
      raw,
      expectedEnd: false,
      ended: false,
    };
    void raw.ended.then(() => {
      stream.ended = true;
    });
    streams.push(stream);
    stats.joins++;
  }

  function leave(): void {
    const open = live();
    if (open.length === 0) return;
    const stream = pick(open);
    stream.expectedEnd = true;
    stream.raw.abort();
    stats.leaves++;
  }

  async function revoke(round: number): Promise<void> {
    // Mostly aimed at an open stream (so that most revocations close something), else anywhere.
    const open = live();
    const aim = open.length > 0 && random() < 0.7 ? pick(open) : undefined;
    const prefix = aim?.prefix ?? pick(prefixes);
    const scope = aim?.scope ?? pick(FLEET_SCOPES);
    const userId = random() < 0.75 ? (aim?.user ?? pick(USERS)) : undefined;
    const selected = live().filter(
      (s) =>
        s.prefix === prefix && s.scope === scope && (userId === undefined || s.user === userId),
    );
    await env.publishers.get(prefix)?.revoke(userId === undefined ? { scope } : { scope, userId });
    for (const s of selected) s.expectedEnd = true;
    const what = `round ${round}: revoke ${JSON.stringify({ prefix, scope, userId })}`;
    await waitFor(
      () => selected.every((s) => s.ended),
      `${what} to end ${selected.length} streams`,
    );
    stats.revocations++;
    stats.revoked += selected.length;
  }

  /** An event on every scope of every application, after everything sent so far. */
  async function barrier(round: number): Promise<void> {
    barriers++;
    for (const publisher of env.publishers.values()) {
      for (const scope of FLEET_SCOPES) {
        await publisher.publishEvent(`${scope}:barrier`, { eventType: BARRIER, data: barriers });
      }
    }
    const open = live();
    await waitFor(
      () =>
        open.every(
          (s) =>
            s.ended ||
            s.raw.events.some((e) => e.event === `app.${BARRIER}` && e.data === String(barriers)),
        ),
      `round ${round}: the barrier reaches every open stream`,
    );
    for (const s of streams) {
      if (!s.expectedEnd) {
        assert.ok(
          !s.ended,
          `round ${round}: ${s.prefix || "''"} ${s.scope} ${s.user}'s stream was closed by a revocation that did not select it`,
        );
      }
    }
  }

  async function checkPresence(round: number): Promise<void> {
    const expected = (prefix: string, scope: string): string[] =>
      [
        ...new Set(
          live()
            .filter((s) => s.prefix === prefix && s.scope === scope)
            .map((s) => s.user),
        ),
      ].sort();
    for (const s of streams) {
      for (const event of presenceOf(s)) {
        assert.equal(
          JSON.parse(event.data).scope,
          s.scope,
          `round ${round}: a ${s.scope} stream got another scope's presence: ${event.data}`,
        );
      }
    }
    for (const [i, app] of env.apps.entries()) {
      const prefix = env.prefixes[i] ?? '';
      for (const scope of FLEET_SCOPES) {
        const want = expected(prefix, scope);
        let seen: readonly string[] = [];
        await waitFor(
          async () => {
            seen = (await app.sse.presence(scope)).users;
            return seen.join() === want.join();
          },
          `round ${round}: instance ${i} (${prefix || "''"}) to read ${scope} as [${want}]`,
        ).catch((err: Error) => {
          throw new Error(`${err.message}; it read [${seen}]`);
        });
      }
    }
    for (const s of live()) {
      const want = expected(s.prefix, s.scope);
      await waitFor(
        () => {
          const last = presenceOf(s).at(-1);
          return last !== undefined && JSON.parse(last.data).users.join() === want.join();
        },
        `round ${round}: ${s.prefix || "''"} ${s.scope} ${s.user}'s last presence event names [${want}] (last: ${presenceOf(s).at(-1)?.data})`,
      );
    }
  }

  try {
    for (let round = 0; round < rounds; round++) {
      const ops = 3 + Math.floor(random() * 6);
      for (let op = 0; op < ops; op++) {
        const r = random();
        if (r < 0.65) await join();
        else if (r < 0.75) leave();
        else await revoke(round);
      }
      await barrier(round);
      await checkPresence(round);
    }
  } finally {
    for (const s of streams) s.raw.abort();
  }
  return stats;
}
