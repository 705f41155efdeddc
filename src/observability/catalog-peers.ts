/**
 * Workers of one task queue must serve the same step catalog: a task's cycles and steps go to whichever
 * worker polls first, so two catalogs on one queue run a task by two sets of rules. Each whenflow worker
 * names its catalog fingerprint (the catalog `version`) in its Temporal identity; these functions read it
 * back from a queue's pollers and say which of them serve another catalog. Pure.
 */
import { hostname } from 'node:os';

const MARK = 'whenflow-catalog:';
const CATALOG_IN_IDENTITY = /\bwhenflow-catalog:(\S+)/;

/**
 * The identity a worker polls with: Temporal's default (`pid@host`) followed by its catalog fingerprint;
 * just the default for a worker alone on its queue (`null`), which no peer compares catalogs with.
 */
export function workerIdentity(catalogVersion: string | null, base = `${process.pid}@${hostname()}`): string {
  return catalogVersion === null ? base : `${base} ${MARK}${catalogVersion}`;
}

/** The catalog fingerprint an identity carries; null for pollers that are not whenflow workers (or older ones). */
export function catalogOfIdentity(identity: string): string | null {
  return CATALOG_IN_IDENTITY.exec(identity)?.[1] ?? null;
}

export interface CatalogConflict {
  taskQueue: string;
  identity: string;
  catalog: string;
  ownCatalog: string;
}

/** The pollers of `taskQueue` (other than `ownIdentity`) whose identity carries another catalog fingerprint. */
export function catalogConflicts(
  taskQueue: string,
  pollerIdentities: readonly string[],
  ownIdentity: string,
  ownCatalog: string,
): CatalogConflict[] {
  const seen = new Set<string>();
  const conflicts: CatalogConflict[] = [];
  for (const identity of pollerIdentities) {
    if (identity === ownIdentity || seen.has(identity)) continue;
    seen.add(identity);
    const catalog = catalogOfIdentity(identity);
    if (catalog !== null && catalog !== ownCatalog) conflicts.push({ taskQueue, identity, catalog, ownCatalog });
  }
  return conflicts;
}

/** One warning line about a conflict. */
export function describeCatalogConflict(conflict: CatalogConflict, own = 'this worker'): string {
  return `warning: task queue ${conflict.taskQueue} is also polled by ${conflict.identity} with step catalog ${conflict.catalog}, but ${own} has catalog ${conflict.ownCatalog}: tasks on this queue run steps from either catalog; give each workspace its own queue or deploy the same steps to every worker`;
}

/** For a command that starts a task: one warning line when the queue's workers serve more than one catalog, else null. */
export function describeMixedCatalogs(taskQueue: string, pollerIdentities: readonly string[]): string | null {
  const byCatalog = new Map<string, string[]>();
  for (const identity of new Set(pollerIdentities)) {
    const catalog = catalogOfIdentity(identity);
    if (catalog !== null) byCatalog.set(catalog, [...(byCatalog.get(catalog) ?? []), identity]);
  }
  if (byCatalog.size < 2) return null;
  const listed = [...byCatalog.entries()].map(([catalog, identities]) => `catalog ${catalog} (${identities.join(', ')})`).join('; ');
  return `warning: task queue ${taskQueue} is polled by workers with different step catalogs: ${listed}; the task's steps run from either catalog`;
}
