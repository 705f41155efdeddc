import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { TASK_SEARCH_ATTRIBUTES } from '../model/search-attributes';

/** Type names the Temporal CLI accepts in `--search-attribute NAME=TYPE`. */
const CLI_TYPE_NAMES = { TEXT: 'Text', KEYWORD: 'Keyword', INT: 'Int', DOUBLE: 'Double', BOOL: 'Bool', DATETIME: 'Datetime', KEYWORD_LIST: 'KeywordList' } as const;

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

/**
 * Runs `temporal server start-dev` as a child process whose output we own: the server's banner and logs
 * must never reach a command's stdout (`whenflow run --json` promises exactly one JSON object there).
 */
export async function spawnDevServer(options: SpawnDevServerOptions): Promise<SpawnedDevServer> {
  // The dev server occasionally fails while starting one of its listeners (a port taken between our
  // check and its bind, or a start-up panic); a second or third start succeeds.
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await spawnOnce(options);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

const START_ATTEMPTS = 3;

async function spawnOnce(options: SpawnDevServerOptions): Promise<SpawnedDevServer> {
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
    ...TASK_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${CLI_TYPE_NAMES[key.type]}`]),
    ...(options.dbFilename ? ['--db-filename', options.dbFilename] : []),
    ...(uiPort ? ['--ui-port', String(uiPort)] : ['--headless']),
  ];
  const child = spawn(options.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The server must not outlive this process, however it ends (an early exit, a closed pipe).
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const address = `127.0.0.1:${port}`;
  try {
    await waitUntilServing(address, exited, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`the Temporal dev server (${options.binary}) did not start: ${(error as Error).message}\n${output}`);
  }
  // A server in memory keeps nothing worth a graceful stop (`whenflow run`, `whenflow test`): it is killed at once.
  return { address, uiAddress: uiPort ? `http://127.0.0.1:${uiPort}` : null, stop: () => stopChild(child, exited, options.dbFilename ? 'SIGTERM' : 'SIGKILL') };
}

async function waitUntilServing(address: string, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let early: number | null | undefined;
  void exited.then((code) => {
    early = code;
  });
  for (;;) {
    if (early !== undefined) throw new Error(`it exited with code ${early}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`not serving on ${address} after ${timeoutMs} ms (${(error as Error).message})`);
      // Polled often: `whenflow run` waits for this before anything else can happen.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
