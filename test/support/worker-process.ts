import { spawn } from 'node:child_process';
import { join } from 'node:path';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'whenflow.mjs');

export interface WorkerProcess {
  pid: number;
  /** Resolves with the signal that ended the process (or its exit code). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `whenflow worker` as a separate OS process, so that a test can really kill it (SIGKILL leaves no
 * chance to clean up: no graceful shutdown, no activity completion, sticky queues left behind).
 */
export function spawnWorkerProcess(options: {
  workspace: string;
  taskQueue: string;
  address: string;
  namespace: string;
  env?: Record<string, string>;
  args?: string[];
}): WorkerProcess {
  const child = spawn(
    process.execPath,
    [bin, 'worker', '--workspace', options.workspace, '--task-queue', options.taskQueue, ...(options.args ?? [])],
    {
      env: { ...process.env, NO_COLOR: '1', TEMPORAL_ADDRESS: options.address, TEMPORAL_NAMESPACE: options.namespace, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  if (child.pid === undefined) throw new Error('could not start the worker process');
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // Never outlive the test process.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  return {
    pid: child.pid,
    exited,
    output: () => output,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
