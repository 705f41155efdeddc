/**
 * Workspace libraries: every module in `libraries/` (`.js`, `.mjs`, `.ts`) is `lib.<file name>` in step
 * content, its exports as members.
 *
 * A library is compiled to CommonJS and evaluated by the workspace's module loader
 * (src/workspace/user-module.ts): ES module `export`s and `module.exports = { … }` both work, and so do
 * relative and package imports. The set of libraries is cached by the content of all library files together, so an edit to
 * any of them (one library may import another) is seen by the next step execution, as for step files.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { describeProblems } from '../model/problems';
import { FinalError, brandError } from '../model/errors';
import { evaluateCommonJsModule, forgetEvaluatedModules } from '../workspace/user-module';

export const LIBRARY_EXTENSIONS = ['.js', '.mjs', '.ts'] as const;
export const LIBRARIES_DIR = 'libraries';

/** Usable as `lib.<name>` in step content. */
const LIBRARY_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export interface LibraryProblem {
  /** The library's file relative to the workspace, e.g. `libraries/validationUtils.js`. */
  file: string;
  library: string;
  message: string;
}

/** A library that did not load, read through `lib.<name>`: the same on every retry, so final. */
export class LibraryError extends FinalError {
  static {
    brandError(LibraryError, 'LibraryError');
  }

  constructor(readonly libraryProblems: LibraryProblem[]) {
    super(describeProblems(libraryProblems, 'the workspace'));
  }
}

export interface LoadedLibraries {
  /** The `lib` global: one member per library that loaded; reading a broken one throws its LibraryError. */
  lib: Record<string, unknown>;
  names: string[];
  problems: LibraryProblem[];
}

const EMPTY: LoadedLibraries = { lib: Object.freeze({}) as Record<string, unknown>, names: [], problems: [] };

/** The last loaded set per workspace, with the hash of every library file's name and content. */
const loaded = new Map<string, { hash: string; libraries: LoadedLibraries }>();

async function libraryFiles(workspace: string): Promise<string[]> {
  const dir = join(workspace, LIBRARIES_DIR);
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && !e.name.endsWith('.d.ts') && (LIBRARY_EXTENSIONS as readonly string[]).includes(extname(e.name)))
      .map((e) => join(dir, e.name))
      .sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
}

/**
 * The libraries of a workspace as they are on disk now. Never throws for bad library files: each
 * comes back as a problem naming the file, line and column, and `lib.<name>` throws it when read.
 */
export async function loadLibraries(workspace: string): Promise<LoadedLibraries> {
  const root = resolve(workspace);
  const files = await libraryFiles(root);
  if (files.length === 0) return EMPTY;
  const sources = await Promise.all(files.map(async (file) => ({ file, source: await readFile(file, 'utf8') })));
  const hash = createHash('sha256');
  for (const { file, source } of sources) hash.update(`${basename(file)}\0${source}\0`);
  const digest = hash.digest('hex');
  const cached = loaded.get(root);
  if (cached?.hash === digest) return cached.libraries;
  const libraries = await evaluateAll(root, sources);
  loaded.set(root, { hash: digest, libraries });
  return libraries;
}

async function evaluateAll(root: string, sources: { file: string; source: string }[]): Promise<LoadedLibraries> {
  // A library one of them imports is read again too: the set is evaluated anew because some file changed.
  const folder = join(root, LIBRARIES_DIR);
  forgetEvaluatedModules(folder);
  const members = new Map<string, () => unknown>();
  const problems: LibraryProblem[] = [];
  for (const { file, source } of sources) {
    const name = basename(file, extname(file));
    const where = { file: relative(root, file), library: name };
    if (!LIBRARY_NAME.test(name)) {
      problems.push({
        ...where,
        message: `"${name}" cannot be written as lib.${name}: name library files with letters, digits, "_" and "$" (not starting with a digit)`,
      });
      continue;
    }
    const existing = members.has(name);
    if (existing) {
      problems.push({ ...where, message: `another file in ${LIBRARIES_DIR}/ is also named "${name}"` });
      continue;
    }
    const result = await evaluateCommonJsModule(file, source);
    if ('exports' in result) {
      const value = membersOf(result.exports);
      members.set(name, () => value);
    } else {
      const problem = { ...where, message: result.failure };
      problems.push(problem);
      members.set(name, () => {
        throw new LibraryError([problem]);
      });
    }
  }
  const lib: Record<string, unknown> = {};
  for (const [name, get] of members) Object.defineProperty(lib, name, { enumerable: true, get });
  return { lib: Object.freeze(lib), names: [...members.keys()], problems };
}

/** `export const a` gives `{ a }`; `export default { a }` and `module.exports = { a }` give `a` as a member too. */
function membersOf(exports: unknown): unknown {
  if (exports === null || typeof exports !== 'object') return exports;
  const record = exports as Record<string, unknown>;
  const fallback = record.default;
  if (fallback !== null && typeof fallback === 'object' && Object.keys(record).every((k) => k === 'default' || k === '__esModule')) {
    return fallback;
  }
  return exports;
}
