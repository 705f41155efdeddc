import * as wf from '@temporalio/workflow';
import type { TaskActivities, TaskStart } from '../activities';
import { compileCatalog, type CompiledCatalog } from '../cycle/select';
import type { TaskBook } from '../cycle/task-book';
import { checkCatalog } from '../model/activity-results';
import type { Catalog, StepRanAhead } from '../model/task';
import { CATALOG_LOCAL_PATCH, START_ATTRIBUTES_PATCH } from './patches';

const catalogActivityOptions: wf.ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3 },
};
const { loadCatalog } = wf.proxyActivities<TaskActivities>(catalogActivityOptions);
/**
 * The catalog is read by a local activity: its result is still recorded in history (a marker), but
 * without an activity task and a workflow task of its own for every task start and reload.
 */
const { loadCatalog: loadCatalogLocally } = wf.proxyLocalActivities<TaskActivities>(catalogActivityOptions);

/**
 * The catalog the worker serves, checked, with the steps the worker ran ahead from `start` (when given, and
 * read locally); a catalog that cannot be read puts the task in error (undefined).
 */
export async function loadCatalogInto(
  task: TaskBook,
  start: TaskStart | null,
): Promise<{ catalog: Catalog; ahead: StepRanAhead[] } | undefined> {
  try {
    // Tasks started since the start attributes are adopted read the catalog locally too (one marker, not two).
    const local = wf.patched(START_ATTRIBUTES_PATCH) || wf.patched(CATALOG_LOCAL_PATCH);
    const loaded = await (local ? (start ? loadCatalogLocally(start) : loadCatalogLocally()) : loadCatalog());
    const checked = checkCatalog(loaded);
    if (!checked.ok) {
      task.fail({
        step: '',
        message: `the catalog the worker loaded is malformed: ${checked.problem}`,
        attempts: 1,
        reason: 'catalog-invalid',
      });
      return undefined;
    }
    const { ahead = [], ...catalog } = checked.value;
    task.catalogVersion = catalog.version;
    if (catalog.broken?.length) task.record({ type: 'steps-disabled', problems: catalog.broken });
    return { catalog, ahead };
  } catch (error) {
    // Stopped while loading (and running ahead): the stop is the task's end, not a catalog problem.
    if (task.terminal) return undefined;
    const cause = error instanceof wf.ActivityFailure && error.cause ? error.cause : error;
    task.fail({ step: '', message: cause instanceof Error ? cause.message : String(cause), attempts: 1, reason: 'catalog-invalid' });
    return undefined;
  }
}

/**
 * Compiled catalogs by their full content, shared by the tasks of a worker (the workflow's modules are
 * evaluated once per worker): compiling is pure and read-only once done, and costs more than a short
 * task's cycles. Keyed by content, not version, so that a catalog is never taken for another.
 */
const compiledByContent = new Map<string, CompiledCatalog>();
const COMPILED_CATALOGS_KEPT = 8;

/** The catalog's conditions compiled; one that cannot be (a pattern the engine refuses) puts the task in error. */
export function compileCatalogFor(task: TaskBook, source: Catalog): CompiledCatalog | undefined {
  try {
    const key = JSON.stringify(source);
    const known = compiledByContent.get(key);
    if (known) return known;
    const compiled = compileCatalog(source);
    if (compiledByContent.size >= COMPILED_CATALOGS_KEPT) compiledByContent.delete(compiledByContent.keys().next().value!);
    compiledByContent.set(key, compiled);
    return compiled;
  } catch (error) {
    task.fail({
      step: '',
      message: `the catalog's conditions cannot be evaluated: ${error instanceof Error ? error.message : String(error)}`,
      attempts: 1,
      reason: 'catalog-invalid',
    });
    return undefined;
  }
}
