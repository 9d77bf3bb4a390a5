/**
 * The bench's stall probe: an idle process whose only work is {@link loopDelay}'s timer. When its
 * loop was held up, the machine was (nothing of its own can hold it): the bench reads it after
 * each measured window and shows it beside the window's p99.
 */
import type { ProbeReply, ProbeRequest } from './protocol.js';
import { loopDelay } from './stalls.js';

const delay = loopDelay();
process.on('message', (message: ProbeRequest) => {
  if (message.type === 'reset') return void delay.reset();
  const reply: ProbeReply = { type: 'delay', maxMs: delay.maxMs() };
  process.send?.(reply);
});
process.on('disconnect', () => process.exit(0));
