/** A client that sends its request and then stops reading: its socket buffers fill up. */
import { connect, type Socket } from 'node:net';

export interface StalledClient {
  readonly socket: Socket;
  /** What arrived before the client stopped reading. */
  received(): string;
}

export async function stalledClient(url: string, path = '/events?scope=1'): Promise<StalledClient> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let text = '';
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
  socket.once('data', (chunk) => {
    text += chunk.toString();
    socket.pause();
  });
  socket.on('error', () => {});
  return { socket, received: () => text };
}
