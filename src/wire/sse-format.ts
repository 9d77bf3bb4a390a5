/**
 * The SSE wire format. Everything written to a browser goes through here, so the rules live in
 * one place: one `data:` line per line of data (CR, LF and CRLF all split), no CR/LF/NUL in
 * `event:` or `id:`, `retry:` as digits, and a frame is always written whole.
 */
import { EventrailError } from '../errors.js';

const LINE_BREAK = /\r\n|\r|\n/;
const FIELD_FORBIDDEN = /[\r\n\0]/;

/** One SSE event, ready to frame. */
export interface SseFrame {
  /** `event:`; omitted when `message`, the browser's default. */
  readonly name: string;
  readonly data: string;
  /** `id:`; omitted when undefined. */
  readonly id?: string | undefined;
}

/**
 * Frames an event as SSE text.
 * @throws {@link EventrailError} `invalid-event-type` when the name or id holds CR, LF or NUL.
 */
export function formatEvent(frame: SseFrame): string {
  if (FIELD_FORBIDDEN.test(frame.name) || frame.name === '') {
    throw new EventrailError(
      'invalid-event-type',
      `An SSE event name must be non-empty without CR, LF or NUL: ${JSON.stringify(frame.name)}.`,
    );
  }
  let out = frame.id === undefined ? '' : formatIdLine(frame.id);
  if (frame.name !== 'message') out += `event: ${frame.name}\n`;
  // Fast path: most invalidation payloads are one line of JSON.
  if (!frame.data.includes('\n') && !frame.data.includes('\r')) {
    out += `data: ${frame.data}\n\n`;
    return out;
  }
  for (const line of frame.data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * The `id:` line that opens a frame.
 * @throws {@link EventrailError} `invalid-event-type` when the id holds CR, LF or NUL.
 */
export function formatIdLine(id: string): string {
  if (FIELD_FORBIDDEN.test(id)) {
    throw new EventrailError(
      'invalid-event-type',
      `An SSE id must not hold CR, LF or NUL: ${JSON.stringify(id)}.`,
    );
  }
  return `id: ${id}\n`;
}

/**
 * A frame with only an `id:`: it moves the browser's Last-Event-ID without firing an event.
 * @throws {@link EventrailError} `invalid-event-type` when the id holds CR, LF or NUL.
 */
export function formatIdOnly(id: string): string {
  return `${formatIdLine(id)}\n`;
}

/** The `retry:` field that tells the browser how long to wait before reconnecting. */
export function formatRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.trunc(ms))}\n\n`;
}

/** A comment line (`: text`), used for heartbeats; browsers ignore it. */
export function formatComment(text = ''): string {
  return `:${text === '' ? '' : ` ${text.replace(/[\r\n]/g, ' ')}`}\n\n`;
}
