/**
 * The engine of test/isolation.test.ts: seeded rounds of random clients, publishes and hostile
 * input against a set of instances, checked after every round once everything has arrived.
 */
import assert from 'node:assert/strict';
import { EventrailError } from '../../src/errors.js';
import { scopeTag } from '../../src/wire/event-ids.js';
import type { RunningApp } from './apps.js';
import { randomText, seededRandom } from './random.js';
import { openRaw, openSource, waitFor } from './sse.js';
import * as t from './tenants.js';

const NAMES = ['eventrail.connected', 'eventrail.resync', 'app.v.changed', 'app.w.changed'];

/** One set-up: its instances, a way to PUBLISH as another program, and a tap on the broker. */
export interface Env {
  readonly apps: readonly RunningApp[];
  /**
   * Each app's Redis prefix (all `''` when absent): apps of different prefixes are different
   * applications on one Redis, and none may receive the other's events.
   */
  readonly prefixes?: readonly string[];
  /** The channel a raw publish arrives on (Redis stores a lone surrogate as U+FFFD); as sent when absent. */
  rawAs?(channel: string): string;
  /** Publishes like another program: no validation, no history. */
  raw(channel: string, payload: string): Promise<void>;
  /** Publishes and appends that reached the broker so far. */
  reached(): Promise<number>;
  /** Every payload the broker carried. */
  readonly tapped: readonly string[];
  /** What the instances reported to onError. */
  readonly errors: readonly Error[];
}

interface Seen {
  readonly name: string;
  readonly data: string;
  readonly id: string | undefined;
}

interface Client {
  readonly label: string;
  /** Its app's Redis prefix. */
  readonly prefix: string;
  readonly routes: readonly string[];
  readonly keys: string;
  readonly round: number;
  /** Came with an id issued for other scopes, forged or garbage: must replay nothing. */
  readonly foreign: boolean;
  readonly withId: boolean;
  events(): readonly Seen[];
  close(): void;
  checked: number;
  resyncs: number;
  readonly seen: Set<string>;
}

interface Sent {
  readonly channel: string;
  /** The channel as Redis names it: the publishing app's prefix and `channel`. */
  readonly at: string;
  readonly round: number;
  readonly payload: string;
}

const keysOf = (routes: readonly string[]): string[] =>
  [...new Set(routes.map((r) => r.slice(0, r.lastIndexOf(':'))))].sort();

/** Whether `c` may receive what Redis carried on `at`: of its application, and routed to it. */
const reaches = (c: Client, at: string): boolean =>
  at.startsWith(c.prefix) && t.allows(c.routes, at.slice(c.prefix.length));

/** Runs `rounds` seeded rounds against `env`; resolves with counts, throws on the first violation. */
export async function runIsolation(env: Env, rounds: number, seed: number) {
  const random = seededRandom(seed);
  const why = (what: string) => `${what} (seed ${seed})`;
  const clients: Client[] = [];
  const sent = new Map<string, Sent>();
  const stats = { rounds, clients: 0, refused: 0, ids: 0, valid: 0, raw: 0, hostile: 0 };
  const checks = { expected: 0, delivered: 0 };
  const prefixOf = (app: RunningApp): string => env.prefixes?.[env.apps.indexOf(app)] ?? '';
  let outstanding: Array<[Client, string]> = [];
  let n = 0;
  let tapChecked = 0;

  /** Checks the events a client got since the last scan. */
  function scan(c: Client): void {
    const events = c.events();
    for (; c.checked < events.length; c.checked++) {
      const { name, data } = events[c.checked] as Seen;
      if (name === 'eventrail.connected') continue;
      if (name === 'eventrail.resync') {
        assert.ok(++c.resyncs <= (c.withId ? 1 : 0), why(`${c.label}: resync #${c.resyncs}`));
        continue;
      }
      // A foreign id replays nothing: its one resync comes before any event, so anything here
      // before it (of this round or an earlier one) was replayed.
      assert.ok(
        !c.foreign || c.resyncs === 1,
        why(`${c.label} came with a foreign id and got ${JSON.stringify(data)} before its resync`),
      );
      const nonce = t.NONCE.exec(data)?.[1] ?? '';
      const origin = sent.get(nonce);
      assert.ok(
        origin,
        why(`${c.label} got an event nobody sent: ${name} ${JSON.stringify(data)}`),
      );
      const what = `${nonce} of ${JSON.stringify(origin.at)}`;
      assert.ok(
        reaches(c, origin.at),
        why(`LEAK: ${c.label} (${JSON.stringify(c.prefix)} ${c.routes.join(' ')}) got ${what}`),
      );
      assert.ok(!c.seen.has(nonce), why(`${c.label} got ${what} twice`));
      c.seen.add(nonce);
      checks.delivered++;
    }
  }

  /** Waits until every client has every event it must have, then checks everything. */
  async function settle(): Promise<void> {
    const complete = () => {
      for (const c of clients) scan(c);
      const resynced = clients.every((c) => !c.foreign || c.resyncs === 1);
      return resynced && outstanding.every(([c, nonce]) => c.seen.has(nonce));
    };
    await waitFor(complete, why('every allowed event at every client'), 5000).catch((err) => {
      const missing = outstanding.filter(([c, nonce]) => !c.seen.has(nonce));
      const list = missing.map(([c, x]) => `${c.label} ${x} ${JSON.stringify(sent.get(x))}`);
      for (const c of clients.filter((c) => c.foreign && c.resyncs !== 1))
        list.push(`${c.label} came with a foreign id: ${c.resyncs} resyncs`);
      throw new Error(`${err}: ${list.join('; ')}`);
    });
    outstanding = [];
    for (; tapChecked < env.tapped.length; tapChecked++) {
      const payload = env.tapped[tapChecked] as string;
      assert.match(payload, /<<[vr]\d+>>/, why(`the broker carried ${JSON.stringify(payload)}`));
    }
  }

  /** Sometimes a Last-Event-ID: another client's, or a forged one. [id, must replay nothing] */
  function lastEventId(routes: readonly string[]): [string, boolean] | undefined {
    if (random() > 0.35) return undefined;
    const keys = keysOf(routes);
    const other = clients.length > 0 ? t.pick(random, clients) : undefined;
    const stolen = other?.events().findLast((e) => e.id !== undefined)?.id;
    if (other && stolen && random() < 0.5) return [stolen, other.keys !== keys.join('\n')];
    return [t.pick(random, t.forgedIds(scopeTag(keys), keys.length, randomText(random, 60))), true];
  }

  /** A principal refused on purpose: hostile routes (500) or the resolver throwing (401). */
  async function refused(app: RunningApp, label: string, routes: string[]): Promise<void> {
    const deny = random() < 0.4;
    if (!deny) routes.splice(t.int(random, 0, routes.length), 0, t.hostileChannel(random, true));
    const before = env.errors.length;
    const s = await openRaw(
      `${app.url}/events?${t.principalQuery(label, routes)}${deny ? '&deny' : ''}`,
    );
    // Checked before waiting for the end: a route wrongly accepted opens a stream that never ends.
    if (s.status !== (deny ? 401 : 500)) s.abort();
    assert.equal(s.status, deny ? 401 : 500, why(`${label} ${JSON.stringify(routes)}`));
    await s.ended;
    assert.doesNotMatch(s.text, t.LEAKY, why('a refusal shows nothing internal'));
    const code = deny ? 'unauthorized' : 'invalid-pattern';
    const reported = env.errors
      .slice(before)
      .some((e) => e instanceof EventrailError && e.code === code);
    assert.ok(reported, why(`onError heard of ${code}`));
    stats.refused++;
  }

  async function open(round: number): Promise<void> {
    const app = t.pick(random, env.apps);
    const label = `c${stats.clients + stats.refused}@${env.apps.indexOf(app)}`;
    const routes = t.randomRoutes(random);
    if (random() < 0.1) return refused(app, label, routes);
    const id = lastEventId(routes);
    const source = random() < 0.3;
    const inHeader = id !== undefined && !source && /^[\x21-\x7e]*$/.test(id[0]) && random() < 0.7;
    let url = `${app.url}/events?${t.principalQuery(label, routes)}`;
    if (id && !inHeader) url += `&lastEventId=${encodeURIComponent(id[0])}`;
    let events: () => readonly Seen[];
    let close: () => void;
    if (source) {
      const s = openSource(url, NAMES.concat('app.raw.x'));
      events = () => s.events;
      close = s.close;
    } else {
      const s = await openRaw(url, { headers: id && inHeader ? { 'Last-Event-ID': id[0] } : {} });
      assert.equal(s.status, 200, why(label));
      events = () => s.events.map((e) => ({ name: e.event ?? 'message', data: e.data, id: e.id }));
      close = s.abort;
    }
    await waitFor(() => events().some((e) => e.name === 'eventrail.connected'), why(label));
    // An empty Last-Event-ID is no id at all: the server treats it as absent (a browser whose id
    // was reset to empty sends none).
    const withId = id !== undefined && id[0] !== '';
    const [keys, foreign] = [keysOf(routes).join('\n'), withId && (id?.[1] ?? false)];
    const fresh = { checked: 0, resyncs: 0, seen: new Set<string>(), prefix: prefixOf(app) };
    clients.push({ label, routes, keys, round, foreign, withId, events, close, ...fresh });
    stats.clients++;
    if (withId) stats.ids++;
  }

  /** Records a publish; `must`: every connected client its routes allow must receive it. */
  function record(nonce: string, sentAs: Sent, must: boolean): void {
    sent.set(nonce, sentAs);
    if (!must) return;
    for (const c of clients) {
      if (reaches(c, sentAs.at)) {
        outstanding.push([c, nonce]);
        checks.expected++;
      }
    }
  }

  async function publishValid(round: number): Promise<void> {
    const channel = t.randomChannel(random);
    const nonce = `v${n++}`;
    const event = {
      eventType: t.pick(random, ['v.changed', 'w.changed', 'app.v.changed']),
      data: { k: `<<${nonce}>>`, ch: channel },
    };
    const app = t.pick(random, env.apps);
    const at = prefixOf(app) + channel;
    record(nonce, { channel, at, round, payload: JSON.stringify(event) }, true);
    await app.sse.publisher.publishEvent(channel, event);
    stats.valid++;
  }

  async function publishRaw(round: number): Promise<void> {
    const valid = random() < 0.6;
    const channel = valid ? t.randomChannel(random) : t.pick(random, t.RAW_CHANNELS);
    const nonce = `r${n++}`;
    const payload = t.rawPayload(random, `<<${nonce}>>`, randomText(random, 80));
    record(nonce, { channel, at: env.rawAs?.(channel) ?? channel, round, payload }, valid);
    await env.raw(channel, payload);
    stats.raw++;
  }

  async function publishHostile(): Promise<void> {
    const before = await env.reached();
    for (let i = t.int(random, 1, 4); i > 0; i--) {
      const h = `<<h${n++}>>`;
      const publisher = t.pick(random, env.apps).sse.publisher;
      const [code, attempt] = t.hostilePublish(random, publisher, h);
      const typed = (e: unknown) => e instanceof EventrailError && e.code === code;
      await assert.rejects(attempt(), typed, why(code));
      stats.hostile++;
    }
    assert.equal(await env.reached(), before, why('nothing hostile reached the broker'));
  }

  try {
    for (let round = 0; round < rounds; round++) {
      if (clients.length >= 14 || (clients.length > 4 && random() < 0.3))
        clients.splice(t.int(random, 0, clients.length - 1), 1)[0]?.close();
      if (clients.length < 4 || random() < 0.5) await open(round);
      for (let i = t.int(random, 1, 3); i > 0; i--) await publishValid(round);
      if (random() < 0.4) await publishRaw(round);
      if (random() < 0.4) await publishHostile();
      await settle();
    }
  } finally {
    for (const c of clients) c.close();
  }
  return { ...stats, ...checks };
}
