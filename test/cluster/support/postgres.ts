import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ManagedProcess, spawnManaged, waitFor } from './processes';

export interface PostgresServer {
  port: number;
  /** Folder of the unix socket (kept private, inside the data folder's parent). */
  socketDir: string;
  user: string;
  password: string;
  process: ManagedProcess;
  /** Runs SQL through psql as the superuser; returns the unaligned, tuples-only output. */
  query(sql: string, database?: string): string;
  stop(): Promise<void>;
}

/** PostgreSQL refuses to run as root; as root, its commands run as the `postgres` system user. */
function asDatabaseUser(command: string, args: string[]): { command: string; args: string[] } {
  if (process.getuid?.() !== 0) return { command, args };
  return { command: 'setpriv', args: ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args] };
}

function ownByDatabaseUser(path: string): void {
  if (process.getuid?.() !== 0) return;
  const ids = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
  const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
  chownSync(path, Number(ids), Number(gid));
}

/**
 * A private PostgreSQL: its own data folder under `root`, its own port on 127.0.0.1, fsync kept on (as
 * in production: the measured database writes must be real ones). Stopped with a fast shutdown.
 */
export async function startPostgres(options: {
  bin: string;
  root: string;
  port: number;
  log: (line: string) => void;
}): Promise<PostgresServer> {
  const dataDir = join(options.root, 'pgdata');
  const socketDir = join(options.root, 'pgsocket');
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  ownByDatabaseUser(options.root);
  ownByDatabaseUser(socketDir);
  const passwordFile = join(options.root, 'pgpass-init');
  const password = 'temporal';
  writeFileSync(passwordFile, `${password}\n`);
  ownByDatabaseUser(passwordFile);
  const init = asDatabaseUser(join(options.bin, 'initdb'), [
    '-D',
    dataDir,
    '-U',
    'temporal',
    '--pwfile',
    passwordFile,
    '-A',
    'scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  execFileSync(init.command, init.args, { stdio: 'pipe' });
  const run = asDatabaseUser(join(options.bin, 'postgres'), [
    '-D',
    dataDir,
    '-p',
    String(options.port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${socketDir}`,
    '-c',
    'max_connections=300',
    '-c',
    'shared_buffers=256MB',
    '-c',
    'track_io_timing=off',
  ]);
  const proc = spawnManaged('postgres', run.command, run.args, {});
  const psql = join(options.bin, 'psql');
  const query = (sql: string, database = 'postgres'): string =>
    execFileSync(
      psql,
      ['-h', '127.0.0.1', '-p', String(options.port), '-U', 'temporal', '-d', database, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      {
        encoding: 'utf8',
        env: { ...process.env, PGPASSWORD: password },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ).trim();
  await waitFor('PostgreSQL to accept connections', 30_000, () => {
    if (proc.exited) throw new Error(`PostgreSQL exited: ${proc.output()}`);
    try {
      return query('select 1') === '1';
    } catch {
      return false;
    }
  });
  options.log(`cluster: PostgreSQL (${options.bin}) on 127.0.0.1:${options.port}, data in ${dataDir}, pid ${proc.pid}`);
  return {
    port: options.port,
    socketDir,
    user: 'temporal',
    password,
    process: proc,
    query,
    // SIGINT is PostgreSQL's fast shutdown: ends sessions, writes a checkpoint, exits.
    stop: () => proc.stop('SIGINT', 20_000),
  };
}
