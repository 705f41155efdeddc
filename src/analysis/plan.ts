/**
 * `whenflow plan`: what a `reload` would change. For each live task, the step its next cycle would run
 * with the catalog it recorded, against the step it would run with the workspace's catalog on disk.
 * Each task is rebuilt from its history (data, eligibility, sequence); no worker is needed.
 */
import type { Client } from '@temporalio/client';
import { listTasks } from '../client';
import { explainSteps } from '../explain/explain';
import { readTaskHistory } from '../explain/history-fetch';
import { walkHistory } from '../explain/timeline';
import type { Catalog, TaskState } from '../model/task';

export interface PlannedChange {
  taskId: string;
  name: string;
  state: TaskState | 'unknown';
  /** Steps the next cycle runs with the catalog the task recorded (empty: none matches). */
  now: string[];
  /** Steps the next cycle would run after a reload. */
  afterReload: string[];
  recordedVersion: string | null;
}

export interface Plan {
  workspaceVersion: string;
  /** Live tasks looked at. */
  checked: number;
  /** Tasks whose next step would change after a reload. */
  changes: PlannedChange[];
}

const LIVE_STATES = ['running', 'waiting', 'attention', 'error'] as const;

export async function planReload(
  client: Client,
  catalog: Catalog,
  filter: { name?: string; tag?: string; limit?: number } = {},
): Promise<Plan> {
  const tasks = (await Promise.all(LIVE_STATES.map((state) => listTasks(client, { state, ...filter })))).flat();
  const changes: PlannedChange[] = [];
  for (const task of tasks) {
    const runs = await readTaskHistory(client, task.taskId).catch(() => null);
    if (!runs) continue;
    const at = walkHistory(runs);
    const next = (stepsOf: Catalog | null) =>
      stepsOf
        ? explainSteps({ catalog: stepsOf, data: at.data, ran: at.ran, concurrency: at.concurrency, sequence: at.sequence })
            .filter((s) => s.status === 'runs')
            .map((s) => s.step)
        : [];
    const now = next(at.catalog);
    const afterReload = next(catalog);
    if (now.join('\0') === afterReload.join('\0')) continue;
    changes.push({
      taskId: task.taskId,
      name: task.name,
      state: task.state,
      now,
      afterReload,
      recordedVersion: at.catalog?.version ?? null,
    });
  }
  return { workspaceVersion: catalog.version, checked: tasks.length, changes };
}
