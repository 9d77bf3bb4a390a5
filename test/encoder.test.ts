import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { EventrailError } from '../src/errors.js';
import { formatComment, formatEvent, formatRetry } from '../src/wire/sse-format.js';
import { randomText, seededRandom } from './helpers/random.js';

function parseAll(text: string): { events: EventSourceMessage[]; retry: number | undefined } {
  const events: EventSourceMessage[] = [];
  let retry: number | undefined;
  const parser = createParser({ onEvent: (e) => events.push(e), onRetry: (ms) => (retry = ms) });
  parser.feed(text);
  return { events, retry };
}

/** What a browser sees for `data`: every CR, LF and CRLF becomes LF. */
const normalise = (data: string): string => data.replace(/\r\n|\r/g, '\n');

describe('encoder', () => {
  it('round-trips seeded random data through eventsource-parser', () => {
    const random = seededRandom(20261128);
    const frames: Array<{ name: string; data: string; id: string }> = [];
    let text = '';
    for (let i = 0; i < 2000; i++) {
      const data = i % 97 === 0 ? '' : randomText(random, i % 50 === 0 ? 100_000 : 300);
      const name = i % 3 === 0 ? 'message' : `app.topic${i}.changed`;
      const frame = { name, data, id: `s${i}` };
      frames.push(frame);
      text += formatEvent(frame);
    }
    const { events } = parseAll(text);
    assert.equal(events.length, frames.length);
    for (const [i, frame] of frames.entries()) {
      const event = events[i];
      assert.ok(event);
      assert.equal(event.data, normalise(frame.data), `data of event ${i}`);
      assert.equal(event.event ?? 'message', frame.name, `name of event ${i}`);
      assert.equal(event.id, frame.id);
    }
  });

  it('splits every kind of line break into data lines and never writes a bare CR', () => {
    const text = formatEvent({ name: 'x', data: 'a\r\nb\rc\nd' });
    assert.equal(text, 'event: x\ndata: a\ndata: b\ndata: c\ndata: d\n\n');
    assert.ok(!text.includes('\r'));
  });

  it('keeps empty data and leading spaces', () => {
    assert.equal(parseAll(formatEvent({ name: 'x', data: '' })).events[0]?.data, '');
    assert.equal(
      parseAll(formatEvent({ name: 'x', data: ' lead\n  two' })).events[0]?.data,
      ' lead\n  two',
    );
  });

  it('omits the event field for message', () => {
    assert.equal(formatEvent({ name: 'message', data: 'x' }), 'data: x\n\n');
  });

  it('refuses CR, LF and NUL in names and ids', () => {
    for (const bad of ['a\nb', 'a\rb', 'a\0b', '']) {
      assert.throws(
        () => formatEvent({ name: bad, data: '' }),
        (e) => e instanceof EventrailError,
      );
    }
    for (const bad of ['1\n2', '1\r', '\0']) {
      assert.throws(
        () => formatEvent({ name: 'x', data: '', id: bad }),
        (e) => e instanceof EventrailError,
      );
    }
  });

  it('writes retry as a real field with digits, and comments browsers ignore', () => {
    assert.equal(formatRetry(3000), 'retry: 3000\n\n');
    assert.equal(parseAll(formatRetry(3000)).retry, 3000);
    assert.equal(formatRetry(12.7), 'retry: 12\n\n');
    const comment = formatComment('ping\nevent: x');
    assert.equal(parseAll(comment).events.length, 0);
    assert.equal(comment, ': ping event: x\n\n');
  });
});
