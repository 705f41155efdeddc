import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { cacheDir, findOnPath, isExecutable, type Log } from '../../../src/temporal/binary';

/**
 * What a self-hosted Temporal cluster needs on this machine, found or made once and cached outside the
 * clone: the Temporal server and its SQL schema tool (built from the Go module proxy), the server
 * module's source (schema files and config templates), and PostgreSQL's binaries (Debian's package).
 */
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';

export interface ClusterBinaries {
  temporalServer: string;
  sqlTool: string;
  /** The server module's source: schema/postgresql/v12/…, config/… */
  serverSource: string;
  /** Folder with initdb, postgres, pg_ctl. */
  postgresBin: string;
}

export function serverCacheDir(): string {
  return join(cacheDir(), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

async function runLogged(command: string, args: string[], env: NodeJS.ProcessEnv, log: Log): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-6000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${tail}`)),
    );
  }).catch((error: unknown) => {
    log(`  ${command} ${args.join(' ')} failed`);
    throw error;
  });
}

/** Builds `go install <module>@<version>` into the cache under `binaryName`, unless it is there already. */
async function goInstall(go: string, pkg: string, builtName: string, binaryName: string, log: Log): Promise<string> {
  const dir = serverCacheDir();
  const target = join(dir, binaryName);
  if (isExecutable(target)) return target;
  mkdirSync(dir, { recursive: true });
  // A private staging folder and a rename: an interrupted or concurrent build never leaves half a binary.
  const staging = mkdtempSync(join(dir, '.build-'));
  const started = Date.now();
  log(`cluster: building ${pkg}@${TEMPORAL_SERVER_VERSION} with Go (once; cached at ${target})`);
  const ticker = setInterval(() => log(`cluster: still building ${binaryName} (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
  try {
    await runLogged(
      go,
      ['install', `${pkg}@${TEMPORAL_SERVER_VERSION}`],
      { ...process.env, GOBIN: staging, GOFLAGS: `${process.env.GOFLAGS ?? ''} -buildvcs=false`.trim() },
      log,
    );
    const built = join(staging, builtName);
    if (!existsSync(built)) throw new Error(`go install ${pkg} produced no ${builtName} in ${staging}`);
    renameSync(built, target);
    log(`cluster: ${binaryName} built in ${Math.round((Date.now() - started) / 1000)} s`);
    return target;
  } finally {
    clearInterval(ticker);
    rmSync(staging, { recursive: true, force: true });
  }
}

const GoModuleInfo = z.object({ Dir: z.string().min(1) });

function moduleSource(go: string): string {
  const output = execFileSync(go, ['mod', 'download', '-json', `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`], {
    encoding: 'utf8',
    cwd: serverCacheDir(),
  });
  const parsed = GoModuleInfo.safeParse(JSON.parse(output));
  if (!parsed.success)
    throw new Error(`go mod download -json ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} gave no Dir: ${output.slice(0, 400)}`);
  return parsed.data.Dir;
}

/** The newest `/usr/lib/postgresql/<major>/bin` with initdb and postgres (Debian's layout). */
function findPostgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const major of majors) {
      const bin = join(root, major, 'bin');
      if (isExecutable(join(bin, 'initdb')) && isExecutable(join(bin, 'postgres'))) return bin;
    }
  }
  const initdb = findOnPath('initdb');
  return initdb && isExecutable(join(initdb, '..', 'postgres')) ? join(initdb, '..') : null;
}

async function ensurePostgres(log: Log): Promise<string> {
  const found = findPostgresBin();
  if (found) return found;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !findOnPath('apt-get')) {
    throw new Error(
      'PostgreSQL is missing: no initdb/postgres under /usr/lib/postgresql/*/bin or on PATH. Install it (Debian: apt-get install postgresql) or run as root on a Debian machine so it is installed here.',
    );
  }
  log('cluster: PostgreSQL is missing; installing it with apt-get (Debian package postgresql)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runLogged('apt-get', ['update'], env, log);
  await runLogged('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], env, log);
  const installed = findPostgresBin();
  if (!installed) throw new Error('apt-get install postgresql finished, but no initdb/postgres was found under /usr/lib/postgresql/*/bin');
  return installed;
}

/** Everything the cluster needs, found or provisioned; says clearly what is missing when it cannot. */
export async function provisionCluster(log: Log): Promise<ClusterBinaries> {
  const go = findOnPath('go');
  const dir = serverCacheDir();
  const cachedServer = join(dir, 'temporal-server');
  const cachedSqlTool = join(dir, 'temporal-sql-tool');
  if (!go && !(isExecutable(cachedServer) && isExecutable(cachedSqlTool))) {
    throw new Error(
      `the Temporal server is missing: neither ${cachedServer} and ${cachedSqlTool} nor a Go toolchain (go on PATH) to build them`,
    );
  }
  if (!go)
    throw new Error(`Go is needed to locate the schema files of ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} (go mod download)`);
  mkdirSync(dir, { recursive: true });
  const postgresBin = await ensurePostgres(log);
  // The two builds share most dependencies; in sequence the second mostly reuses the first's build cache.
  const temporalServer = await goInstall(go, `${TEMPORAL_SERVER_MODULE}/cmd/server`, 'server', 'temporal-server', log);
  const sqlTool = await goInstall(go, `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql`, 'sql', 'temporal-sql-tool', log);
  const serverSource = moduleSource(go);
  for (const needed of ['schema/postgresql/v12/temporal/versioned', 'schema/postgresql/v12/visibility/versioned']) {
    if (!existsSync(join(serverSource, needed))) throw new Error(`${needed} is missing in ${serverSource}`);
  }
  return { temporalServer, sqlTool, serverSource, postgresBin };
}
