/**
 * The floor of a catch-up: bare node:http writing a stream's bytes, held in memory, in one write
 * to every request. `CATCHUP_FILE` holds them: what eventrail wrote for a replay (its `retry:`,
 * its hello and the events), captured by the bench, so both write the same bytes.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { SSE_HEADERS, serve } from './common.js';

const file = process.env.CATCHUP_FILE;
if (file === undefined) throw new Error('CATCHUP_FILE is required');
const bytes = readFileSync(file);

const server = createServer((req, res) => {
  if (!req.url?.startsWith('/events')) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, SSE_HEADERS);
  res.write(bytes);
});

serve(server);
