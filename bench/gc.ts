/**
 * `node --import tsx bench/gc.ts [DIR]`: what the garbage collector did in each server of a run
 * with `npm run bench -- --trace-gc`, from V8's one line per collection, counting only those in
 * the latency phases' measured windows (marked in the log by the bench). Per server: how many
 * young-generation collections (scavenges) and full ones, and per scavenge the median pause and the
 * median bytes that survived it and were promoted to the old generation. Survivors are what a
 * server keeps alive from one collection to the next: per-event objects that some long-lived
 * object still points at. They make every scavenge slower and, once promoted, the old generation
 * grow, so that full collections come sooner.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = process.argv[2] ?? path.join(os.tmpdir(), 'eventrail-bench-prof');
if (!existsSync(dir)) {
  console.error(`${dir}: no such directory (run npm run bench -- --trace-gc first)`);
  process.exit(1);
}

interface Collection {
  kind: string;
  pause: number;
  survived: number;
  promoted: number;
}

/**
 * The main thread's collections (the isolate with the most lines: the loader thread has its own)
 * inside the measured windows the bench marked in the log (all of them when it marked none).
 */
function collections(file: string): Collection[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const windows: Array<[number, number]> = [];
  for (const line of lines) {
    const mark = /^\[bench\] window (start|end) at (\d+) ms$/.exec(line);
    if (mark?.[1] === 'start') windows.push([Number(mark[2]), Number.POSITIVE_INFINITY]);
    else if (mark && windows.length > 0) (windows.at(-1) as [number, number])[1] = Number(mark[2]);
  }
  const measured = (ms: number): boolean =>
    windows.length === 0 || windows.some(([start, end]) => ms >= start && ms <= end);
  const byIsolate = new Map<string, Collection[]>();
  for (const line of lines) {
    const head = /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: (.*)$/.exec(line);
    if (head === null || !measured(Number(head[2]))) continue;
    const fields = new Map<string, string>();
    for (const pair of (head[3] as string).split(' ')) {
      const at = pair.indexOf('=');
      if (at > 0) fields.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const kind = fields.get('gc');
    if (kind === undefined) continue;
    const list = byIsolate.get(head[1] as string) ?? [];
    byIsolate.set(head[1] as string, list);
    list.push({
      kind,
      pause: Number(fields.get('pause') ?? 0),
      survived: Number(fields.get('new_space_survived') ?? 0),
      promoted: Number(fields.get('promoted') ?? 0),
    });
  }
  return [...byIsolate.values()].sort((a, b) => b.length - a.length)[0] ?? [];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
console.log(
  '| server | scavenges | median pause | median survived | median promoted | full GCs | total pause |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.gc.log'))) {
  const all = collections(path.join(dir, file));
  const young = all.filter((c) => c.kind === 's');
  const total = all.reduce((sum, c) => sum + c.pause, 0);
  console.log(
    `| ${file.slice(0, -'.gc.log'.length)} | ${young.length} | ${median(young.map((c) => c.pause)).toFixed(1)} ms | ${kb(median(young.map((c) => c.survived)))} | ${kb(median(young.map((c) => c.promoted)))} | ${all.length - young.length} | ${total.toFixed(0)} ms |`,
  );
}
