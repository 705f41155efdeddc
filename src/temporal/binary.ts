import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Finds a Temporal CLI (which embeds the dev server). Order:
 * 1. WHENFLOW_TEMPORAL_BIN naming an existing binary,
 * 2. `temporal` on PATH,
 * 3. a cached build of the pinned CLI version (built once with `go install`, reused afterwards),
 * 4. null: the caller lets the Temporal SDK download its own binary (needs internet).
 *
 * v1.5.1 is pinned because later tags carry a `replace` directive and cannot be `go install`ed.
 */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export type Log = (line: string) => void;

export function cacheDir(): string {
  const base = process.env.WHENFLOW_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'whenflow');
  return base;
}

export function cachedBinaryPath(): string {
  return join(cacheDir(), `temporal-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Returns a usable binary without building anything, or null. */
export function findTemporalBinary(): string | null {
  const fromEnv = process.env.WHENFLOW_TEMPORAL_BIN;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new Error(`WHENFLOW_TEMPORAL_BIN=${fromEnv} is not an executable file`);
    }
    return fromEnv;
  }
  const onPath = findOnPath('temporal');
  if (onPath) return onPath;
  const cached = cachedBinaryPath();
  return isExecutable(cached) ? cached : null;
}

/** Finds the binary, building and caching it with Go when needed. Null when there is no Go toolchain. */
export async function provisionTemporalBinary(log: Log = (line) => process.stderr.write(`${line}\n`)): Promise<string | null> {
  const found = findTemporalBinary();
  if (found) return found;
  const go = findOnPath('go');
  if (!go) {
    log('whenflow: no Temporal CLI found and no Go toolchain; falling back to the Temporal SDK download');
    return null;
  }
  await buildWithGo(go, log);
  return cachedBinaryPath();
}

async function buildWithGo(go: string, log: Log): Promise<void> {
  const target = cachedBinaryPath();
  const targetDir = join(target, '..');
  mkdirSync(targetDir, { recursive: true });
  // Build into a private directory and rename, so a concurrent or interrupted build never leaves a half-written binary.
  const staging = mkdtempSync(join(targetDir, '.build-'));
  const started = Date.now();
  log(`whenflow: building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go (once; cached at ${target})`);
  const ticker = setInterval(
    () => log(`whenflow: still building the Temporal CLI (${Math.round((Date.now() - started) / 1000)} s)`),
    20_000,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
        env: { ...process.env, GOBIN: staging, GOFLAGS: `${process.env.GOFLAGS ?? ''} -buildvcs=false`.trim() },
        stdio: ['ignore', 'inherit', 'pipe'],
      });
      let stderrTail = '';
      child.stderr.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        stderrTail = (stderrTail + text).slice(-8000);
        for (const line of text.split('\n')) if (line.trim()) log(`  ${line}`);
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} failed (exit ${code}):\n${stderrTail}`)),
      );
    });
    if (!existsSync(join(staging, 'temporal'))) throw new Error(`go install finished but produced no binary in ${staging}`);
    renameSync(join(staging, 'temporal'), target);
    log(`whenflow: Temporal CLI ready after ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    clearInterval(ticker);
    rmSync(staging, { recursive: true, force: true });
  }
}
