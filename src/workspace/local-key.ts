/**
 * A stash key for one machine: `whenflow dev` makes one on first start, so `data.$stash` works on a laptop
 * without any configuration. It lives in the workspace's `.whenflow/` folder (which holds its own
 * `.gitignore`, so it is never committed), readable by its owner only. `secrets.key` in whenflow.yaml,
 * when set, wins over it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCAL_STATE_DIR = '.whenflow';
export const LOCAL_STASH_KEY_FILE = join(LOCAL_STATE_DIR, 'stash.key');

/** The key file's text, or null when there is none. */
export async function readLocalStashKey(workspace: string): Promise<string | null> {
  try {
    return await readFile(join(workspace, LOCAL_STASH_KEY_FILE), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

/** Makes the local key unless it exists; `created` says whether this call made it. */
export async function ensureLocalStashKey(workspace: string): Promise<{ path: string; created: boolean }> {
  const dir = join(workspace, LOCAL_STATE_DIR);
  const path = join(workspace, LOCAL_STASH_KEY_FILE);
  await mkdir(dir, { recursive: true });
  // Nothing in this folder belongs in version control: the dev database, blobs, this key.
  await writeFile(join(dir, '.gitignore'), '*\n', { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  try {
    await writeFile(path, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { path, created: false };
    throw error;
  }
  // The mode given to writeFile is filtered by the umask; the key must be the owner's alone whatever it is.
  await chmod(path, 0o600);
  return { path, created: true };
}
