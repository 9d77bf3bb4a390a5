/**
 * `node --import tsx bench/profile.ts [DIR]`: the top self-time functions of each CPU profile that
 * `npm run bench -- --profile` wrote, counting only samples inside that scenario's saturation
 * window (so connecting and the steady phase do not dilute the hot path).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const dir = process.argv[2] ?? path.join(os.tmpdir(), 'eventrail-bench-prof');
const windowsFile = path.join(dir, 'windows.json');
const windows: Record<string, [number, number]> = existsSync(windowsFile)
  ? JSON.parse(readFileSync(windowsFile, 'utf8'))
  : {};

function where(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
}

/** The main thread's profile of a scenario: the one with the most non-idle samples. */
function mainProfile(scenarioDir: string): CpuProfile | undefined {
  let best: { profile: CpuProfile; busy: number } | undefined;
  for (const file of readdirSync(scenarioDir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(path.join(scenarioDir, file), 'utf8')) as CpuProfile;
    const idle = new Set(
      profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id),
    );
    const busy = profile.samples.filter((id) => !idle.has(id)).length;
    if (best === undefined || busy > best.busy) best = { profile, busy };
  }
  return best?.profile;
}

for (const label of readdirSync(dir).filter((f) => !f.includes('.'))) {
  const profile = mainProfile(path.join(dir, label));
  if (profile === undefined) continue;
  const file = label;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const window = windows[label];
  const self = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (window && (t < window[0] || t > window[1])) return;
    const node = byId.get(id);
    if (node === undefined) return;
    const key = where(node);
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const scope = window ? 'saturation window' : 'whole run (no window found)';
  console.log(`\n${file}: ${(total / 1000).toFixed(0)} ms sampled, ${scope}`);
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
  for (const [name, us] of top) {
    console.log(
      `${((us * 100) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`,
    );
  }
}
