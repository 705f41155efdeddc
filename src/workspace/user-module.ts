/**
 * The one loader of the workspace owner's modules: step files, connectors and libraries.
 *
 * Steps and connectors are ES modules imported through tsx (`.ts`, `.mjs` and `.js` alike, each import
 * in a fresh namespace so an edited file is seen). Libraries are compiled by esbuild to CommonJS and
 * evaluated with a `require` rooted at their file, so `module.exports = { … }` and `declare function`
 * lines in a `.js` library work too. Either way the module is evaluated outside any step scope (a module
 * that reads `data` & co. while it loads fails with a clear message), and a module that cannot load is
 * described in one format (see describeLoadFailure). The file itself is named by the problem that
 * carries the message (`steps/a.mjs: cannot load: …`).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runInThisContext } from 'node:vm';
import { transform, type Message } from 'esbuild';
import { require as tsxRequire } from 'tsx/cjs/api';
import { tsImport } from 'tsx/esm/api';
import { runOutsideStep } from '../runtime/globals';

/** Why a module did not load, and where in its source when that is known (1-based line and column). */
export interface LoadFailure {
  reason: string;
  syntax: boolean;
  line?: number;
  column?: number;
  /** The source line at `line`, trimmed. */
  sourceLine?: string;
}

export type UserModule = { exports: Record<string, unknown> } | { failure: string };

/**
 * The one message format of a module that cannot load:
 * `cannot load: syntax error: Expected "}" but found "2" at line 3, column 37 — export async function bad( { return 2; }`,
 * `cannot load: no config at line 3, column 7 — throw new Error('no config');`, or `cannot load: <reason>`
 * when the place is unknown.
 */
export function describeLoadFailure(failure: LoadFailure): string {
  const what = failure.syntax ? `syntax error: ${failure.reason}` : failure.reason;
  const at =
    failure.line === undefined ? '' : ` at line ${failure.line}${failure.column === undefined ? '' : `, column ${failure.column}`}`;
  const shown = failure.sourceLine ? ` — ${failure.sourceLine}` : '';
  return `cannot load: ${what}${at}${shown}`;
}

/** The SHA-256 of a file's bytes: loaders keep their result until it changes. */
export function contentHash(source: Buffer | string): string {
  return createHash('sha256').update(source).digest('hex');
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The first error of an esbuild failure, with its place; undefined when the error is not esbuild's. */
function esbuildFailure(error: unknown): LoadFailure | undefined {
  const first = (error as { errors?: Message[] } | null)?.errors?.[0];
  if (!first) return undefined;
  const place = first.location;
  if (!place) return { reason: first.text, syntax: true };
  return { reason: first.text, syntax: true, line: place.line, column: place.column + 1, sourceLine: place.lineText.trim() };
}

/** Node's module loader does not say where a syntax error is, and tsx's esbuild says it in its own words; esbuild's parser locates both alike. */
async function syntaxFailure(file: string): Promise<LoadFailure | undefined> {
  try {
    await transform(await readFile(file, 'utf8'), { loader: extname(file) === '.ts' ? 'ts' : 'js', format: 'esm', sourcefile: file });
    return undefined;
  } catch (error) {
    return esbuildFailure(error);
  }
}

/** Imports a step file or connector: its exports, or the one-line message of why it did not load. */
export async function importUserModule(file: string): Promise<UserModule> {
  try {
    const exports = (await runOutsideStep(() => tsImport(pathToFileURL(file).href, import.meta.url))) as Record<string, unknown>;
    return { exports };
  } catch (error) {
    const failure = (await syntaxFailure(file)) ?? { reason: messageOf(error), syntax: false };
    return { failure: describeLoadFailure(failure) };
  }
}

/** What esbuild's CommonJS wrapper is wrapped in; the code starts on its first line, after this text. */
const CJS_WRAPPER_START = '(function (exports, require, module, __filename, __dirname) {';

/** Forgets the compiled modules under `folder`, so the next evaluation reads them again. */
export function forgetEvaluatedModules(folder: string): void {
  for (const key of Object.keys(tsxRequire.cache)) if (key.startsWith(folder)) delete tsxRequire.cache[key];
}

/**
 * Evaluates a library's source as CommonJS (TypeScript syntax accepted in every extension): its
 * `module.exports`, or the one-line message of why it did not load.
 */
export async function evaluateCommonJsModule(file: string, source: string): Promise<{ exports: unknown } | { failure: string }> {
  let code: string;
  let map: string;
  try {
    // The ts loader for every extension: libraries may declare their interface with `declare function`.
    ({ code, map } = await transform(source, { loader: 'ts', format: 'cjs', sourcefile: file, sourcemap: 'external', target: 'node20' }));
  } catch (error) {
    return { failure: describeLoadFailure(esbuildFailure(error) ?? { reason: messageOf(error), syntax: false }) };
  }
  const module = { exports: {} as unknown };
  try {
    const wrapper = runInThisContext(`${CJS_WRAPPER_START}${code}\n})`, { filename: file }) as (
      exports: unknown,
      require: NodeJS.Require,
      module: { exports: unknown },
      filename: string,
      dirname: string,
    ) => void;
    // Imports go through tsx, so a library may import a TypeScript file, its neighbours, or packages.
    const requireFromModule = Object.assign((id: string): unknown => tsxRequire(id, file), tsxRequire) as unknown as NodeJS.Require;
    await runOutsideStep(async () => wrapper(module.exports, requireFromModule, module, file, join(file, '..')));
  } catch (error) {
    const place = originalPlace(error, file, map);
    const sourceLine = place ? source.split('\n')[place.line - 1]?.trim() : undefined;
    return { failure: describeLoadFailure({ reason: messageOf(error), syntax: false, ...place, ...(sourceLine ? { sourceLine } : {}) }) };
  }
  return { exports: module.exports };
}

/** The line and column in the module's own source of the first stack frame in it (through esbuild's source map). */
function originalPlace(error: unknown, file: string, map: string): { line: number; column: number } | undefined {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const frame = new RegExp(`${escaped}:(\\d+):(\\d+)`).exec(stack);
  if (!frame) return undefined;
  try {
    const line = Number(frame[1]) - 1;
    const column = Number(frame[2]) - 1 - (line === 0 ? CJS_WRAPPER_START.length : 0);
    const entry = new SourceMap(JSON.parse(map) as ConstructorParameters<typeof SourceMap>[0]).findEntry(line, column);
    if (!('originalLine' in entry)) return undefined;
    return { line: entry.originalLine + 1, column: entry.originalColumn + 1 };
  } catch {
    return undefined;
  }
}
