/**
 * A broker message another program published, against `maxPayloadBytes`: up to that plus 2 KiB
 * (room for the fields eventrail and other publishers add) it is written; one character more and
 * it is not written: the scope's clients get `eventrail.resync` instead, and it is reported.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { EventrailError } from '../src/errors.js';
import { queryResolver, queryRouter, startApp } from './helpers/apps.js';
import { openRaw, waitFor } from './helpers/sse.js';

const MAX_PAYLOAD = 1024;
const MARGIN = 2048;

/** A valid payload of exactly `length` characters. */
function payloadOf(length: number): string {
  const shell = '{"event_type":"big.x","data":""}';
  return `${shell.slice(0, -2)}${'x'.repeat(length - shell.length)}"}`;
}

describe('oversized broker messages', () => {
  it('writes one of maxPayloadBytes + 2 KiB; one character more is a resync', async () => {
    const errors: Error[] = [];
    const broker = createMemoryBroker();
    const app = await startApp('node:http', {
      broker,
      resolver: queryResolver,
      router: queryRouter,
      maxPayloadBytes: MAX_PAYLOAD,
      hooks: { onError: (e) => errors.push(e) },
    });
    const s = await openRaw(`${app.url}/events`);
    await waitFor(() => s.events.length === 1, 'connected');
    const fits = payloadOf(MAX_PAYLOAD + MARGIN);
    assert.equal(fits.length, MAX_PAYLOAD + MARGIN);
    await broker.publish('gym:1:a', fits);
    await waitFor(() => s.events.length === 2, 'the message at the limit');
    assert.equal(s.events[1]?.event, 'big.x');
    assert.equal(s.events[1]?.data.length, MAX_PAYLOAD + MARGIN - 30);
    assert.equal(errors.length, 0, `nothing reported: ${errors}`);
    await broker.publish('gym:1:a', payloadOf(MAX_PAYLOAD + MARGIN + 1));
    await waitFor(() => s.events.length === 3, 'the answer to the one over it');
    assert.equal(s.events[2]?.event, 'eventrail.resync');
    assert.ok(
      errors.some((e) => e instanceof EventrailError && e.code === 'payload-too-large'),
      'reported',
    );
    await broker.publish('gym:1:a', payloadOf(100));
    await waitFor(() => s.events.length === 4, 'live after it');
    assert.equal(s.events[3]?.event, 'big.x');
    s.abort();
    await app.stop();
    await broker.close();
  });
});
