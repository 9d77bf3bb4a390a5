import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { Deadlines } from '../src/brokers/deadlines.js';
import { stopwatch } from './helpers/stopwatch.js';

const timeout = (what: string, ms: number): Error => new Error(`${what} timed out after ${ms} ms`);

/** Blocks the event loop: timers and I/O both come due meanwhile. */
function block(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

describe('shared deadlines', () => {
  it('rejects a call that outlives its limit, and aborts the signals of its time', async () => {
    const deadlines = new Deadlines(100, timeout);
    const signal = deadlines.signal();
    const clock = stopwatch();
    await assert.rejects(
      deadlines.bound(new Promise(() => {}), 'PUBLISH a'),
      /PUBLISH a timed out after 100 ms/,
    );
    const elapsed = clock.within(400, 'the rejection');
    assert.ok(elapsed >= 99, `rejected after ${elapsed} ms`);
    assert.equal(signal.aborted, true);
  });

  it('settles a call whose reply arrived while the loop was blocked past its limit', async () => {
    // A server in another process, so that it answers while this loop is blocked.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').createServer((c) => c.on('data', () => c.write('+OK\\r\\n')));
         s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      const socket = net.connect(Number(String(line).trim()), '127.0.0.1');
      await once(socket, 'connect');
      const deadlines = new Deadlines(100, timeout);
      const reply = new Promise<string>((resolve) => socket.once('data', (d) => resolve(`${d}`)));
      const call = deadlines.bound(reply, 'PUBLISH b');
      socket.write('PING\r\n');
      // The reply arrives during the block; the sweep's timer comes due in it too.
      block(300);
      try {
        assert.equal(await call, '+OK\r\n');
      } finally {
        socket.destroy();
      }
    } finally {
      child.kill();
    }
  });
});
