// Installs the npm packages when they are missing or older than package-lock.json, so a fresh clone
// needs nothing but `npm test` or `npm run demo`.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function ensureDependencies() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(installed) && (!existsSync(lock) || statSync(installed).mtimeMs >= statSync(lock).mtimeMs)) return;
  process.stderr.write('whenflow: installing npm packages…\n');
  // `npm install` follows package-lock.json; `npm ci` is avoided because npm rejects lock files that
  // leave out other platforms' optional binaries (as @swc/core's are) as "out of sync".
  const result = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`whenflow: npm install failed (exit ${result.status})\n`);
    process.exit(result.status ?? 1);
  }
}

/** Runs a command in the project root with inherited output; exits with its code when it fails. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
