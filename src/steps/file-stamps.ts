import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * File metadata that stands for a file's content, so that unchanged files need not be read again.
 *
 * A stamp holds the inode, size, mtime and ctime. Any write, rename or replacement changes the ctime
 * (which no user tool can set back), so an equal stamp means an unchanged file — provided the file was
 * not written within the timestamp resolution of the moment its stamp was taken. Stamps of files
 * changed that recently are therefore not trusted (`null`): the caller reads the file instead, and
 * may trust its stamp a moment later.
 */
export const RECENT_CHANGE_MS = 2000;

/** The stamp of one path, `missing` when it does not exist, or null when it changed too recently to be trusted. */
export async function fileStamp(path: string, now = Date.now()): Promise<string | null> {
  try {
    const s = await stat(path, { bigint: true });
    // biome-ignore lint/complexity/useMathMinMax: the times are bigints, which Math.max refuses
    const changedMs = Number((s.ctimeNs > s.mtimeNs ? s.ctimeNs : s.mtimeNs) / 1_000_000n);
    if (now - changedMs < RECENT_CHANGE_MS) return null;
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw error;
  }
}

/** The folders and files of a workspace that make up its catalog, configuration, connectors and libraries. */
const WORKSPACE_DIRS = ['steps', 'connectors', 'libraries'];
const WORKSPACE_FILES = ['whenflow.yaml', 'whenflow.yml', join('.whenflow', 'stash.key')];

/**
 * One string that changes whenever any file a workspace reading depends on changes (a step file, a
 * connector module, a library, whenflow.yaml, or a file added to or removed from those folders). Null when some
 * file changed too recently for its stamp to be trusted: the workspace must be read.
 */
export async function workspaceFingerprint(workspace: string, now = Date.now()): Promise<string | null> {
  const root = resolve(workspace);
  const paths = WORKSPACE_FILES.map((file) => join(root, file));
  for (const dir of WORKSPACE_DIRS) {
    const folder = join(root, dir);
    paths.push(folder);
    try {
      for (const name of (await readdir(folder)).sort()) paths.push(join(folder, name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    }
  }
  const stamps = await Promise.all(paths.map((path) => fileStamp(path, now)));
  if (stamps.includes(null)) return null;
  return paths.map((path, i) => `${path}\0${stamps[i]}`).join('\n');
}
