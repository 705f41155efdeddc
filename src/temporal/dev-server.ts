import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { TASK_SEARCH_ATTRIBUTE_TYPES } from '../model/search-attribute-names';
import { WhenflowError, brandError } from '../model/errors';

/** Type names the Temporal CLI accepts in `--search-attribute NAME=TYPE`. */
const CLI_TYPE_NAMES = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
} as const;

export interface SpawnedDevServer {
  address: string;
  uiAddress: string | null;
  stop(): Promise<void>;
}

export interface SpawnDevServerOptions {
  binary: string;
  namespace?: string;
  dbFilename?: string;
  port?: number;
  ui?: boolean;
  uiPort?: number;
  readyTimeoutMs?: number;
  /** Dynamic configuration values of the server (`--dynamic-config-value KEY=VALUE`), on top of DEV_SERVER_DYNAMIC_CONFIG. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Called once the server's process is spawned, before it serves: work to do meanwhile. */
  onSpawned?: () => void;
}

/**
 * Dynamic configuration every dev server whenflow starts gets. The history service reads new tasks
 * (a workflow task after an activity, an activity after a workflow task) from its transfer queue at most
 * `transferProcessorMaxPollRPS` times a second, 20 by default: every hand-off between server and worker
 * waited for the next read, about 40 ms (BENCHMARKS.md, "Hand-offs"). Reads follow new tasks, so lifting
 * the limit costs nothing when idle. Eager activity dispatch hands an activity scheduled by a workflow
 * task straight back to the worker that completed it, when it has a free slot.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, string | number | boolean>> = {
  'history.transferProcessorMaxPollRPS': 10_000,
  'history.transferProcessorMaxPollHostRPS': 10_000,
  'system.enableActivityEagerExecution': true,
  // One partition per task queue. With the server's default of four, a task written to a partition that no
  // poller is on at that moment waits for forwarding (at most 10 tasks a second): under a burst, the last
  // tasks of a queue sat ready for seconds while every worker idled (BENCHMARKS.md, "P3 — what paced
  // whenflow's rounds"). A single server
  // process gains nothing from partitions.
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

/** `--dynamic-config-value KEY=VALUE` arguments of the Temporal CLI's dev server: whenflow's settings, then `extra`. */
export function dynamicConfigArgs(extra: Record<string, string | number | boolean> = {}): string[] {
  return Object.entries({ ...DEV_SERVER_DYNAMIC_CONFIG, ...extra }).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

/** A port asked for explicitly that something else already holds: starting there would talk to that instead. */
export class PortInUseError extends WhenflowError {
  static {
    brandError(PortInUseError, 'PortInUseError');
  }

  constructor(
    readonly port: number,
    readonly flag: string,
  ) {
    super(
      `port ${port} on 127.0.0.1 is already in use (something answers there, perhaps an earlier dev server): stop it, or choose another port with ${flag}`,
    );
  }
}

/** Whether something accepts connections on 127.0.0.1:`port`, or holds it so that we cannot listen there. */
export async function portInUse(port: number): Promise<boolean> {
  if (await portAnswers(port)) return true;
  return new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

/**
 * Runs `temporal server start-dev` as a child process whose output we own: the server's banner and logs
 * must never reach a command's stdout (`whenflow run --json` promises exactly one JSON object there).
 * Ports asked for explicitly must be free: a server already there would silently be used instead.
 */
export async function spawnDevServer(options: SpawnDevServerOptions): Promise<SpawnedDevServer> {
  if (options.port !== undefined && (await portInUse(options.port))) throw new PortInUseError(options.port, '--port');
  if (options.ui && options.uiPort !== undefined && (await portInUse(options.uiPort)))
    throw new PortInUseError(options.uiPort, '--ui-port');
  // The dev server occasionally fails while starting one of its listeners (a port taken between our
  // check and its bind, or a start-up panic); a second or third start succeeds.
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await spawnOnce(options, attempt === 1 ? options.onSpawned : undefined);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

const START_ATTEMPTS = 3;

async function spawnOnce(options: SpawnDevServerOptions, onSpawned: (() => void) | undefined): Promise<SpawnedDevServer> {
  const port = options.port ?? (await freePort());
  const uiPort = options.ui ? (options.uiPort ?? port + 1000) : null;
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--namespace',
    options.namespace ?? 'default',
    '--log-level',
    'warn',
    ...Object.entries(TASK_SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => ['--search-attribute', `${name}=${CLI_TYPE_NAMES[type]}`]),
    ...dynamicConfigArgs(options.dynamicConfig),
    ...(options.dbFilename ? ['--db-filename', options.dbFilename] : []),
    ...(uiPort ? ['--ui-port', String(uiPort)] : ['--headless']),
  ];
  // The server runs under a watchdog that holds the read end of a pipe whose write end only this process
  // has: when this process ends in any way, SIGKILL included, the pipe closes and the watchdog stops the
  // server, so no orphan keeps the port (and the database) after us.
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'whenflow-temporal-watchdog', options.binary, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  onSpawned?.();
  child.stdin?.on('error', () => {});
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // A server in memory keeps nothing worth a graceful stop (`whenflow run`, `whenflow test`), which takes the
  // Temporal server a second: it is killed at once. One with a database file stops gracefully.
  const now = options.dbFilename === undefined;
  // The server must not outlive this process, however it ends (an early exit, a closed pipe).
  const killOnExit = () => child.kill(now ? 'SIGUSR1' : 'SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const address = `127.0.0.1:${port}`;
  try {
    await waitUntilServing(address, port, exited, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    child.stdin?.end();
    child.kill(now ? 'SIGUSR1' : 'SIGKILL');
    throw new Error(`the Temporal dev server (${options.binary}) did not start: ${(error as Error).message}\n${output}`);
  }
  return { address, uiAddress: uiPort ? `http://127.0.0.1:${uiPort}` : null, stop: () => stopChild(child, exited, { now }) };
}

async function waitUntilServing(address: string, port: number, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let early: number | null | undefined;
  void exited.then((code) => {
    early = code;
  });
  // A plain TCP probe until the port listens: a gRPC channel that was refused backs off for a second
  // before it tries again, which would double a start-up of a few hundred milliseconds.
  while (!(await portAnswers(port))) {
    if (early !== undefined) throw new Error(`it exited with code ${early}`);
    if (Date.now() > deadline) throw new Error(`not listening on ${address} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  // Listening is not serving yet: the frontend answers once its services have started.
  const { Connection } = await import('@temporalio/client');
  for (;;) {
    if (early !== undefined) throw new Error(`it exited with code ${early}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`not serving on ${address} after ${timeoutMs} ms (${(error as Error).message})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * `sh -c WATCHDOG name binary args…`: starts the server, and stops it (SIGTERM, SIGKILL 10 s later) once its
 * standard input reaches end of file — when the parent closes it, or dies. SIGUSR1 to the watchdog kills
 * the server at once (a server in memory has nothing to save). The server's own exit ends the watchdog
 * with the server's exit code. Background jobs of a script read /dev/null unless told otherwise, hence the
 * copy of the pipe on descriptor 3.
 */
const WATCHDOG = [
  // Ctrl-C reaches the whole process group: the parent decides when the server stops, through the pipe.
  "trap '' INT",
  'exec 3<&0',
  // Set before the server starts, so that no kill asked for is missed; it interrupts the `wait` below.
  'server=',
  'trap \'[ -n "$server" ] && kill -KILL "$server" 2>/dev/null\' USR1',
  '"$@" </dev/null & server=$!',
  // The watcher waits in `wait`, where a TERM from below is handled at once (and ends its reader and timer).
  '( trap \'kill "$reader" "$timer" 2>/dev/null; exit 0\' TERM',
  '  cat <&3 >/dev/null & reader=$!; wait "$reader"',
  '  kill -TERM "$server" 2>/dev/null; sleep 10 & timer=$!; wait "$timer"',
  '  kill -KILL "$server" 2>/dev/null ) & watcher=$!',
  'exec 3<&- 0</dev/null',
  'wait "$server"; code=$?',
  // A trapped signal ends `wait` early: wait again until the server has really gone.
  'while kill -0 "$server" 2>/dev/null; do wait "$server"; code=$?; done',
  'kill "$watcher" 2>/dev/null',
  'exit "$code"',
].join('\n');

/** Closing the watchdog's pipe stops the server; the watchdog itself is killed when it does not end in time. */
async function stopChild(child: ChildProcess, exited: Promise<number | null>, options: { now: boolean }): Promise<void> {
  if (child.exitCode !== null) return;
  if (options.now) child.kill('SIGUSR1');
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
