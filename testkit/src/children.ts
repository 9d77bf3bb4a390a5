/**
 * Child processes that never outlive the process that started them: every one is tracked and
 * SIGKILLed when this process exits, and on Linux `setpriv --pdeathsig KILL` has the kernel kill
 * it even when this process dies by SIGKILL, which no 'exit' handler can cover.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';

/** Whether `command ...args` runs and exits with 0 (within 5 s). */
export function commandExists(command: string, args: readonly string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 5_000 });
  return result.error === undefined && result.status === 0;
}

const useSetpriv: boolean =
  process.platform === 'linux' && commandExists('setpriv', ['--pdeathsig', 'KILL', 'true']);

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** SIGKILLs every child started by {@link spawnTracked} that still runs. */
export function killAllChildren(): void {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllChildren);
  // With setpriv the kernel takes the children down when a signal ends this process.
  if (useSetpriv) return;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAllChildren();
      // The listener is gone now: re-raising gets the default behaviour (terminate).
      process.kill(process.pid, signal);
    });
  }
}

/** `spawn(command, args, options)`, tracked: the child dies with this process, whatever happens. */
export function spawnTracked(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): ChildProcess {
  installExitHook();
  const child = useSetpriv
    ? spawn('setpriv', ['--pdeathsig', 'KILL', command, ...args], options)
    : spawn(command, args, options);
  running.add(child);
  const forget = (): void => {
    running.delete(child);
  };
  child.once('error', forget);
  child.once('exit', forget);
  return child;
}
