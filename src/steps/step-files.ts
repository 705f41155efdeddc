/**
 * Step files: the files of a workspace's `steps/` folder, each loaded (through the workspace's module
 * loader), checked (condition compiled, options validated) and gathered into the catalog the workflow
 * runs, with every problem found. The workspace as a whole (config, connectors, libraries) is
 * src/workspace/workspace.ts.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { compileCondition, ConditionError } from '../conditions';
import { describeProblems, formatProblem } from '../model/problems';
import { formatJsonPath, joinJsonPaths } from '../model/json';
import type { Catalog, CatalogStep, StepRetryPolicy } from '../model/task';
import type { StepContent } from '../runtime/execute';
import { FinalError, brandError } from '../model/errors';
import { contentHash, importUserModule } from '../workspace/user-module';
import { resolveStepOptions, stepOptionsSchema, type StepOptions } from './options';
import { DEFAULT_STEP_RETRY, DEFAULT_STEP_TIMEOUT_MS } from '../model/defaults';

export const STEP_EXTENSIONS = ['.js', '.mjs', '.ts'] as const;

/** One thing wrong with a step file, located as precisely as we can. */
export interface StepProblem {
  file: string;
  step: string;
  /** Where inside the file's exports, e.g. `condition.order.status` or `options.retry.maximumAttempts`. */
  path?: string;
  message: string;
}

/** Step files that do not load (the problems name the file and the key in it); final until the files change. */
export class StepFileError extends FinalError {
  static {
    brandError(StepFileError, 'StepFileError');
  }

  constructor(readonly problems: StepProblem[]) {
    super(describeProblems(problems, 'the workspace'));
  }
}

export { formatProblem };

export interface LoadedStep extends CatalogStep {
  content: StepContent;
  /** The options as the file declares them, before the workspace defaults are applied. */
  declared: StepOptions;
}

/** Defaults a workspace's configuration may set for every step (whenflow.yaml `defaults:`). */
export interface StepDefaults {
  retry: StepRetryPolicy;
  timeoutMs: number;
  /** `defaults.local`: absent, each step is local by its timeout. */
  local?: boolean | undefined;
}

export const BUILT_IN_STEP_DEFAULTS: StepDefaults = { retry: DEFAULT_STEP_RETRY, timeoutMs: DEFAULT_STEP_TIMEOUT_MS };

export interface LoadedStepFiles {
  catalog: Catalog;
  steps: Map<string, LoadedStep>;
  problems: StepProblem[];
}

/**
 * Step files already loaded, by path and content hash. A file is imported again only when its content
 * changed: the edited file is what the next execution runs, and unchanged files are not re-imported
 * for every task (each import stays in memory for the life of the process).
 */
const loadedFiles = new Map<string, { hash: string; result: { step?: LoadedStep; problems: StepProblem[] } }>();

export function stepsDir(workspace: string): string {
  return join(resolve(workspace), 'steps');
}

async function listStepFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.endsWith('.d.ts') && (STEP_EXTENSIONS as readonly string[]).includes(extname(e.name)))
    .map((e) => join(dir, e.name))
    .sort();
}

/** Loads and checks one step file; returns the step or the problems it has (all of them, not only the first). */
export async function loadStepFile(workspace: string, file: string): Promise<{ step?: LoadedStep; problems: StepProblem[] }> {
  const source = await readFile(file);
  const hash = contentHash(source);
  const cached = loadedFiles.get(file);
  if (cached?.hash === hash) return cached.result;
  const result = await importStepFile(workspace, file);
  loadedFiles.set(file, { hash, result });
  return result;
}

async function importStepFile(workspace: string, file: string): Promise<{ step?: LoadedStep; problems: StepProblem[] }> {
  const name = basename(file, extname(file));
  const where = { file: relative(resolve(workspace), file), step: name };
  const loaded = await importUserModule(file);
  if ('failure' in loaded) return { problems: [{ ...where, message: loaded.failure }] };
  const moduleExports = loaded.exports;
  const problems: StepProblem[] = [];
  if (!('condition' in moduleExports)) problems.push({ ...where, message: 'missing export `condition` (a pattern over the task data)' });
  if (typeof moduleExports.content !== 'function') {
    problems.push({ ...where, message: '`content` must be exported as an async function, e.g. export const content = async () => { … }' });
  }
  let condition: CatalogStep['condition'] | undefined;
  if ('condition' in moduleExports) {
    try {
      condition = compileCondition(moduleExports.condition);
    } catch (error) {
      if (!(error instanceof ConditionError)) throw error;
      for (const p of error.problems) problems.push({ ...where, path: joinJsonPaths('condition', p.path), message: p.message });
    }
  }
  const options = stepOptionsSchema.safeParse(moduleExports.options ?? {});
  if (!options.success) {
    for (const issue of options.error.issues) {
      problems.push({ ...where, path: formatJsonPath(['options', ...issue.path]), message: issue.message });
    }
  }
  if (problems.length > 0 || !condition || !options.success) return { problems };
  const resolved = resolveStepOptions(options.data, BUILT_IN_STEP_DEFAULTS);
  return {
    problems,
    step: { name, file: where.file, condition, ...resolved, declared: options.data, content: moduleExports.content as StepContent },
  };
}

/** Loads every step file of a workspace. Never throws for bad step files: they come back as problems. */
export async function loadStepFiles(workspace: string, defaults: StepDefaults = BUILT_IN_STEP_DEFAULTS): Promise<LoadedStepFiles> {
  const dir = stepsDir(workspace);
  let files: string[];
  try {
    files = await listStepFiles(dir);
  } catch (error) {
    const message = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `no steps folder at ${dir}` : String(error);
    return { catalog: { version: 'empty', steps: [], connectors: {} }, steps: new Map(), problems: [{ file: dir, step: '', message }] };
  }
  const steps = new Map<string, LoadedStep>();
  const problems: StepProblem[] = [];
  const hash = createHash('sha256');
  for (const file of files) {
    hash
      .update(`${basename(file)}\0`)
      .update(contentHash(await readFile(file)))
      .update('\0');
    const loaded = await loadStepFile(workspace, file);
    problems.push(...loaded.problems);
    if (!loaded.step) continue;
    const existing = steps.get(loaded.step.name);
    if (existing) {
      problems.push({
        file: loaded.step.file,
        step: loaded.step.name,
        message: `another file (${existing.file}) defines a step with the same name`,
      });
      continue;
    }
    steps.set(loaded.step.name, { ...loaded.step, ...resolveStepOptions(loaded.step.declared, defaults) });
  }
  const catalogSteps = [...steps.values()].map(({ content: _content, declared: _declared, ...step }) => step);
  return { catalog: { version: hash.digest('hex').slice(0, 16), steps: catalogSteps, connectors: {} }, steps, problems };
}
