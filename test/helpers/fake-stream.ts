/**
 * A fake transport and owner for unit tests of the fan-out state machines (connection, hub,
 * delivery): what they write is parsed back with eventsource-parser, as a browser would read it.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Sink } from '../../src/adapters/transport.js';
import { Connection, type ConnectionOwner } from '../../src/fanout/connection.js';
import { Frame } from '../../src/fanout/frame.js';
import type { BackpressurePolicy, DisconnectReason, Principal } from '../../src/types.js';
import type { Position } from '../../src/wire/event-ids.js';

/** A sink that records what it is given; `full` makes `write` report a full buffer. */
export class FakeSink implements Sink {
  text = '';
  full = false;
  ended = false;
  destroyed = false;
  write(chunk: Uint8Array): boolean {
    this.text += Buffer.from(chunk).toString('utf8');
    return !this.full;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  buffered(): number {
    return 0;
  }
  /** The events written so far, parsed. */
  events(): EventSourceMessage[] {
    const events: EventSourceMessage[] = [];
    createParser({ onEvent: (event) => events.push(event) }).feed(this.text);
    return events;
  }
}

/** An owner that records what its connections report. */
export class FakeOwner implements ConnectionOwner<Principal> {
  readonly clock = { tick: 0 };
  readonly closed: DisconnectReason[] = [];
  readonly backpressure: BackpressurePolicy[] = [];
  resyncs = 0;
  readonly errors: unknown[] = [];
  onBackpressure(_c: Connection<Principal>, action: BackpressurePolicy): void {
    this.backpressure.push(action);
  }
  onResync(): void {
    this.resyncs++;
  }
  onClosed(_c: Connection<Principal>, reason: DisconnectReason): void {
    this.closed.push(reason);
  }
  onError(error: unknown): void {
    this.errors.push(error);
  }
}

let ids = 0;

/** A connection on a fake sink, for one scope `gym:1` (two when `scopes` says so). */
export function fakeConnection(
  options: {
    policy?: BackpressurePolicy;
    bufferSize?: number;
    maxBufferedBytes?: number;
    maxStallMs?: number;
    positions?: Position[];
    scopes?: string[];
  } = {},
) {
  const sink = new FakeSink();
  const owner = new FakeOwner();
  const scopes = options.scopes ?? ['gym:1'];
  const connection = new Connection<Principal>(
    `c${++ids}`,
    { userId: 1, scopeId: 1 },
    scopes.map((s) => `${s}:*`),
    scopes,
    'tag',
    {
      bufferSize: options.bufferSize ?? 4,
      maxBufferedBytes: options.maxBufferedBytes ?? 1 << 20,
      maxStallMs: options.maxStallMs ?? 60_000,
      policy: options.policy ?? 'disconnect',
    },
    owner,
  );
  connection.startAt(options.positions);
  connection.attach(sink);
  return { connection, sink, owner };
}

/** A frame of event `name` with data `data`, at history position `seq` (none when undefined). */
export function frame(name: string, data: string, seq?: number, origin?: string): Frame {
  const position = seq === undefined ? undefined : { ms: 1_000, seq };
  return Frame.of({ name, data, origin }, position, 'tag');
}

/** Lets the tick's batched writes go out (write-batch.ts flushes on setImmediate). */
export function flushed(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
