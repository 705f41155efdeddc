/**
 * Asks Temporal which workers poll a task queue (DescribeTaskQueue, for workflow and activity tasks)
 * and reports those serving another step catalog (catalog-peers.ts): once on start, then every
 * `intervalMs`, each worker and catalog once.
 */
import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { catalogConflicts, catalogOfIdentity, type CatalogConflict } from './catalog-peers';

/** A live worker polls again at least every minute (a long poll's length); older entries are workers gone. */
const LIVE_POLLER_MS = 90_000;

/** Whether an identity names a process on this machine that has exited (a worker stopped a moment ago). */
function goneFromThisHost(identity: string): boolean {
  const match = /^(\d+)@(\S+)/.exec(identity);
  if (!match || match[2] !== hostname()) return false;
  try {
    process.kill(Number(match[1]), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * The identities of the workers polling `taskQueue` now. Temporal lists a queue's pollers for minutes
 * after they stop; those not seen for a while, and processes of this machine that have exited, are left out.
 */
export async function queuePollerIdentities(client: Client, namespace: string, taskQueue: string): Promise<string[]> {
  const { TaskQueueType, TaskQueueKind } = proto.temporal.api.enums.v1;
  const types = [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY];
  const answers = await Promise.all(
    types.map((taskQueueType) =>
      client.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType,
      }),
    ),
  );
  const now = Date.now();
  const live = answers
    .flatMap((answer) => answer.pollers ?? [])
    .filter((poller) => {
      const seconds = poller.lastAccessTime?.seconds;
      return seconds === undefined || seconds === null || now - Number(seconds) * 1000 < LIVE_POLLER_MS;
    });
  const identities = new Set(live.map((poller) => poller.identity ?? '').filter((identity) => identity !== ''));
  return [...identities].filter((identity) => !goneFromThisHost(identity));
}

export interface CatalogWatchOptions {
  client: Client;
  namespace: string;
  taskQueue: string;
  identity: string;
  catalogVersion: string;
  onConflict: (conflict: CatalogConflict) => void;
  /** A failed look-up (the service unreachable for a moment): reported, and tried again next time. */
  onError?: (error: unknown) => void;
  intervalMs?: number;
}

export const CATALOG_CHECK_INTERVAL_MS = 30_000;

/** What one look-up found: the other workers polling the queue, and those serving another catalog. */
export interface CatalogPeers {
  /** Other whenflow workers of the queue with the same catalog. */
  sameCatalog: string[];
  conflicts: CatalogConflict[];
}

/**
 * Checks the queue every interval until stopped; `check()` runs one look-up now (null when it failed).
 * Each conflict is reported once.
 */
export function watchCatalogPeers(options: CatalogWatchOptions): { check(): Promise<CatalogPeers | null>; stop(): void } {
  const reported = new Set<string>();
  const check = async (): Promise<CatalogPeers | null> => {
    try {
      const identities = await queuePollerIdentities(options.client, options.namespace, options.taskQueue);
      const conflicts = catalogConflicts(options.taskQueue, identities, options.identity, options.catalogVersion);
      for (const conflict of conflicts) {
        const key = `${conflict.identity}\0${conflict.catalog}`;
        if (reported.has(key)) continue;
        reported.add(key);
        options.onConflict(conflict);
      }
      const sameCatalog = identities.filter(
        (identity) => identity !== options.identity && catalogOfIdentity(identity) === options.catalogVersion,
      );
      return { sameCatalog, conflicts };
    } catch (error) {
      options.onError?.(error);
      return null;
    }
  };
  const timer = setInterval(() => void check(), options.intervalMs ?? CATALOG_CHECK_INTERVAL_MS);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
