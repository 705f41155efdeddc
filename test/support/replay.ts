import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/worker';
import { replayTasks } from './temporal';

/**
 * Replays every given task's history against the current workflow code, like replayTasks, but keeps
 * only a few of them as fixtures (WHENFLOW_RECORD_HISTORIES=1): fault tests run hundreds of tasks.
 */
export async function replayMany(client: Client, taskIds: string[], label: string, keep: string[]): Promise<number> {
  const kept = new Set(keep);
  let replayed = await replayTasks(
    client,
    taskIds.filter((id) => kept.has(id)),
    label,
  );
  const rest = taskIds.filter((id) => !kept.has(id));
  const histories = (async function* () {
    for (const workflowId of rest) yield { workflowId, history: await client.workflow.getHandle(workflowId).fetchHistory() };
  })();
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    if (result.error) throw new Error(`replay of ${result.workflowId} failed: ${String(result.error)}`);
    replayed += 1;
  }
  return replayed;
}
