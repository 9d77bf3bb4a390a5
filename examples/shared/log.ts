/**
 * A logger of the shape eventrail takes (pino's), printing one short line per message: what the
 * examples use instead of printing errors with their stacks. eventrail reports a broker outage
 * once, then a reminder now and then, then its end, so an outage costs a few lines, not a flood.
 */
import type { Logger } from 'eventrail';

/** One line per message on stderr (`info` on stdout), `[tag] message`; `debug` is dropped. */
export function lineLogger(tag: string): Logger {
  return {
    error: (_fields, message) => console.error(`[${tag}] ${message}`),
    warn: (_fields, message) => console.error(`[${tag}] ${message}`),
    info: (_fields, message) => console.log(`[${tag}] ${message}`),
    debug: () => {},
  };
}

/** An error as one line: its message, and its cause's message when it has one. */
export function oneLine(error: Error): string {
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}

/**
 * A URL fit for a log line: its password replaced by `***` (`redis://app:***@host:6379`). A value
 * that is not a URL may hold one anywhere, so it is not printed at all.
 */
export function withoutPassword(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(a URL that does not parse)';
  }
  if (parsed.password !== '') parsed.password = '***';
  return parsed.href;
}
