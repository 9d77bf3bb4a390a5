import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { globMatch } from '../src/brokers/glob.js';
import { seededRandom } from './helpers/random.js';
import {
  connectRaw,
  type RawRedisConnection,
  type RedisProcess,
  redisSkipReason,
  startRedis,
} from './helpers/redis.js';

interface Case {
  readonly pattern: string;
  readonly channel: string;
  /** What Redis answers (checked against a real Redis below). */
  readonly expected: boolean;
}

const c = (pattern: string, channel: string, expected: boolean): Case => ({
  pattern,
  channel,
  expected,
});

const CASES: readonly Case[] = [
  // Literals
  c('gym:1:students', 'gym:1:students', true),
  c('gym:1:students', 'gym:1:student', false),
  c('gym:1:students', 'gym:1:studentss', false),
  c('gym:1:students', 'GYM:1:students', false),
  c('', '', true),
  c('', 'a', false),
  // `*`
  c('*', 'anything', true),
  c('*', 'line\nbreak', true),
  c('*', '', false), // Redis: `*` needs at least one byte to look at
  c('**', 'a', true),
  c('a*', 'a', true),
  c('*a', 'a', true),
  c('*a', 'ba', true),
  c('*a', 'ab', false),
  c('a*b*c', 'aXbYc', true),
  c('a*b*c', 'abc', true),
  c('a*b*c', 'acb', false),
  // Scope patterns: what eventrail actually subscribes
  c('gym:1:*', 'gym:1:students', true),
  c('gym:1:*', 'gym:1:', true),
  c('gym:1:*', 'gym:1:a:b', true),
  c('gym:1:*', 'gym:1', false),
  c('gym:1:*', 'gym:10:x', false),
  c('gym:1:*', 'gym:1x:a', false),
  c('gym:1:*', 'gym:2:students', false),
  c('gym:1:*', 'xgym:1:a', false),
  c('gym:1:*', 'gym:1:🎉', true),
  // `?`
  c('h?llo', 'hello', true),
  c('h?llo', 'hllo', false),
  c('h?llo', 'heello', false),
  c('?', 'é', false), // Redis matches bytes: é is two bytes in UTF-8
  c('??', 'é', true),
  c('????', '🎉', true),
  // Classes
  c('h[ae]llo', 'hallo', true),
  c('h[ae]llo', 'hillo', false),
  c('h[^e]llo', 'hallo', true),
  c('h[^e]llo', 'hello', false),
  c('h[a-c]llo', 'hbllo', true),
  c('h[a-c]llo', 'hdllo', false),
  c('h[c-a]llo', 'hbllo', true), // reversed range: Redis swaps the ends
  c('[^a-c]x', 'dx', true),
  c('[^a-c]x', 'bx', false),
  c('gym:[0-9]:*', 'gym:5:x', true),
  c('gym:[0-9]:*', 'gym:10:x', false),
  c('[!a]', 'b', false), // `!` is not a negation in Redis
  c('[!a]', '!', true),
  c('h[a\\-c]llo', 'h-llo', true),
  c('h[a\\-c]llo', 'hbllo', false),
  c('[\\]]', ']', true),
  c('[]a]', 'a', false), // `[]` is an empty class: matches nothing
  c('[]a]', ']a]', false),
  c('[a-]', '_', true), // `a-]` is the range `]`..`a`
  c('[a-]', '-', false),
  c('[abc', 'b', true), // an unclosed class runs to the end of the pattern
  c('[abc', '[abc', false),
  c('a[', 'a[', false), // a lone `[` at the end matches nothing
  // Escapes
  c('h\\*llo', 'h*llo', true),
  c('h\\*llo', 'hello', false),
  c('\\?', '?', true),
  c('\\?', 'a', false),
  c('x\\', 'x\\', true), // a trailing backslash is literal
  c('\\a', 'a', true),
];

function randomString(
  random: () => number,
  alphabet: readonly string[],
  maxLength: number,
): string {
  const length = 1 + Math.floor(random() * maxLength);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(random() * alphabet.length)] ?? '';
  return out;
}

function mismatches(cases: readonly Case[], answer: (k: Case) => boolean): string[] {
  const wrong: string[] = [];
  for (const k of cases) {
    let actual: boolean | string;
    try {
      actual = answer(k);
    } catch (err) {
      actual = `threw ${String(err)}`;
    }
    if (actual !== k.expected) {
      wrong.push(
        `${JSON.stringify(k.pattern)} vs ${JSON.stringify(k.channel)}: expected ${k.expected}, got ${actual}`,
      );
    }
  }
  return wrong;
}

describe('globMatch', () => {
  it(`agrees with the expected Redis answers (${CASES.length} cases)`, () => {
    assert.ok(CASES.length >= 30);
    assert.deepEqual(
      mismatches(CASES, (k) => globMatch(k.pattern, k.channel)),
      [],
    );
  });

  it('gives the same answer when asked again (compiled patterns are cached)', () => {
    for (let round = 0; round < 2; round++) {
      assert.equal(globMatch('gym:1:*', 'gym:1:students'), true);
      assert.equal(globMatch('gym:1:*', 'gym:10:students'), false);
      assert.equal(globMatch('h[^e]llo', 'hello'), false);
    }
  });

  it('never throws, whatever the pattern', () => {
    const random = seededRandom(7);
    const alphabet = ['a', '-', '[', ']', '^', '\\', '*', '?', 'é'];
    for (let i = 0; i < 2_000; i++) {
      const pattern = randomString(random, alphabet, 8);
      assert.doesNotThrow(() => globMatch(pattern, 'a-]é'), `pattern ${JSON.stringify(pattern)}`);
    }
  });
});

describe('globMatch against a real Redis', { skip: redisSkipReason() }, () => {
  let redis: RedisProcess;
  let publisher: RawRedisConnection;

  before(async () => {
    redis = await startRedis();
    publisher = await connectRaw(redis.port);
  });

  after(async () => {
    await publisher?.close();
    await redis?.stop();
  });

  /**
   * The oracle: a raw connection PSUBSCRIBEs every pattern, another PUBLISHes every channel, and
   * a PING on the subscriber (answered after every message published before it) closes each
   * round. Returns, per channel, the patterns Redis delivered it to.
   */
  async function redisMatches(
    patterns: readonly string[],
    channels: readonly string[],
  ): Promise<Map<string, Set<string>>> {
    const subscriber = await connectRaw(redis.port);
    try {
      const unique = [...new Set(patterns)];
      await Promise.all(unique.map((pattern) => subscriber.command('PSUBSCRIBE', pattern)));
      let current: Set<string> | undefined;
      const unexpected: unknown[] = [];
      subscriber.onMessage((message) => {
        if (current === undefined || message.pattern === undefined) unexpected.push(message);
        else current.add(message.pattern);
      });
      const result = new Map<string, Set<string>>();
      for (const channel of new Set(channels)) {
        const matched = new Set<string>();
        current = matched;
        const receivers = await publisher.command('PUBLISH', channel, 'x');
        const pong = await subscriber.command('PING');
        assert.deepEqual(pong, ['pong', '']);
        current = undefined;
        assert.equal(receivers, matched.size, `PUBLISH count vs delivered for ${channel}`);
        result.set(channel, matched);
      }
      assert.deepEqual(unexpected, [], 'messages outside a PUBLISH/PING round');
      return result;
    } finally {
      await subscriber.close();
    }
  }

  async function redisAnswers(cases: readonly Case[]): Promise<Case[]> {
    const matches = await redisMatches(
      cases.map((k) => k.pattern),
      cases.map((k) => k.channel),
    );
    return cases.map((k) =>
      c(k.pattern, k.channel, matches.get(k.channel)?.has(k.pattern) === true),
    );
  }

  it('the expected answers are what Redis says', async () => {
    const truth = await redisAnswers(CASES);
    assert.deepEqual(
      mismatches(CASES, (k) => truth[CASES.indexOf(k)]?.expected === true),
      [],
    );
  });

  it('globMatch agrees with Redis on every table case', async () => {
    const truth = await redisAnswers(CASES);
    assert.deepEqual(
      mismatches(truth, (k) => globMatch(k.pattern, k.channel)),
      [],
    );
  });

  it('globMatch agrees with Redis on 12000 generated pattern/channel pairs', async (t) => {
    const random = seededRandom(20240611);
    const patternAlphabet = ['a', 'b', '-', '[', ']', '^', '\\', '*', '?', 'é', ':'];
    const channelAlphabet = ['a', 'b', '-', '[', ']', '^', '\\', '*', 'é', ':'];
    const patterns = Array.from({ length: 200 }, () => randomString(random, patternAlphabet, 6));
    const channels = Array.from({ length: 60 }, () => randomString(random, channelAlphabet, 4));
    const matches = await redisMatches(patterns, channels);
    const truth: Case[] = [];
    for (const pattern of patterns) {
      for (const channel of channels) {
        truth.push(c(pattern, channel, matches.get(channel)?.has(pattern) === true));
      }
    }
    const matching = truth.filter((k) => k.expected).length;
    t.diagnostic(`${matching} of ${truth.length} generated pairs match in Redis`);
    assert.ok(
      matching >= 100,
      `only ${matching} generated pairs match: the generator is too narrow`,
    );
    assert.deepEqual(
      mismatches(truth, (k) => globMatch(k.pattern, k.channel)),
      [],
    );
  });
});
