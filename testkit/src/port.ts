/** A free port of 127.0.0.1, for a server this process is about to start. */
import net from 'node:net';

/**
 * A port nobody listens on right now: the OS picks it. A small race remains (another process may
 * take it before the caller binds it); a caller that can retry does so (see `startRedis`).
 */
export async function findFreePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
