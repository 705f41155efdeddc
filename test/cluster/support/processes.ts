import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A child process the cluster run started, and will stop whatever happens. */
export interface ManagedProcess {
  name: string;
  pid: number;
  readonly exited: boolean;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** Sends `signal`, and SIGKILL after `graceMs` if it is still running. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** CPU time (user + system) the process has used so far, in ms, from /proc. */
  cpuMs(): number;
}

const running = new Set<ManagedProcess>();
const TICKS_PER_SECOND = 100;

function cpuOf(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime is field 14, stime 15 (1-based).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const childrenUser = Number(fields[13]);
    const childrenSystem = Number(fields[14]);
    return ((utime + stime + childrenUser + childrenSystem) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

export function spawnManaged(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string },
): ManagedProcess {
  const child: ChildProcess = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-40_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  let lastCpu = 0;
  const pid = child.pid;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      running.delete(managed);
      resolve({ code, signal });
    }),
  );
  const managed: ManagedProcess = {
    name,
    pid,
    get exited() {
      return exited;
    },
    exit,
    output: () => output,
    async stop(signal = 'SIGTERM', graceMs = 15_000) {
      if (exited) return;
      child.kill(signal);
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, graceMs);
      await exit;
      clearTimeout(timer);
    },
    cpuMs() {
      if (!exited) lastCpu = cpuOf(pid);
      return lastCpu;
    },
  };
  running.add(managed);
  return managed;
}

/** Every process still running, newest first (so servers stop after the workers that use them). */
export function runningProcesses(): ManagedProcess[] {
  return [...running].reverse();
}

/** Stops everything still running, newest first. */
export async function stopAll(log: (line: string) => void): Promise<void> {
  for (const proc of runningProcesses()) {
    log(`cluster: stopping ${proc.name} (pid ${proc.pid})`);
    await proc.stop(proc.name === 'postgres' ? 'SIGINT' : 'SIGTERM', 15_000).catch(() => undefined);
  }
}

// If the run itself dies, nothing it started is left behind.
process.once('exit', () => {
  for (const proc of running) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export async function waitFor(what: string, timeoutMs: number, probe: () => boolean | Promise<boolean>, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
      // A probe that throws a process-exit error cannot recover.
      if (error instanceof Error && /exited/.test(error.message)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
}

/**
 * A free TCP port on 127.0.0.1, below 32768: Temporal records each service's membership port in a
 * PostgreSQL smallint, so the kernel's ephemeral ports (32768 and up) cannot be used.
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free TCP port found between 20000 and 32000 on 127.0.0.1');
}

const handedOut = new Set<number>();
