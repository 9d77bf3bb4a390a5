/**
 * Connections the kernel dropped because a listening socket's accept queue was full
 * (`TcpExt: ListenOverflows`, Linux, machine-wide): a burst of connections faster than a server
 * accepts them loses its SYNs there, and each client's TCP then retries after 1 s, 3 s, 7 s...
 * Null where /proc/net/netstat is not readable.
 */
import { readFileSync } from 'node:fs';

export function listenOverflows(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/net/netstat', 'latin1');
  } catch {
    return null;
  }
  const lines = text.split('\n').filter((line) => line.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const at = names.indexOf('ListenOverflows');
  return at > 0 && values[at] !== undefined ? Number(values[at]) : null;
}
