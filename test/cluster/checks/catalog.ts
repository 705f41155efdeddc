import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getTask, reloadTask, startTask, updateTask, waitForTask } from '../../../src/client';
import type { TaskSnapshot, TaskState } from '../../../src/model/task';
import { until, type CheckContext } from '../support/context';

const REVIEW_V2 = `// Version 2 of the catalog: a review needs a reviewer.
export const condition = { doc: { state: 'review', approved: true, reviewer: String } };
export const content = async () => {
  data.doc.log.push(\`review@v2 by \${data.doc.reviewer}\`);
  data.doc.state = 'published';
  task.complete('v2');
};
`;

const WAITING = 4;

/**
 * A changed step catalog deployed as a second worker version on the same task queue while tasks wait
 * (a rolling deployment: the new version starts, then the old one stops). Waiting tasks keep the
 * catalog they recorded until `reload`; new tasks take the new one.
 */
export async function catalogCheck(context: CheckContext, root: string): Promise<void> {
  const v1 = join(root, 'catalog-v1');
  const v2 = join(root, 'catalog-v2');
  cpSync(join(import.meta.dirname, '..', 'workspaces', 'catalog'), v1, { recursive: true });
  cpSync(v1, v2, { recursive: true });
  writeFileSync(join(v2, 'steps', 'review.mjs'), REVIEW_V2);
  const taskQueue = `cluster-catalog-${context.runId}`;

  const oldVersion = context.startWorker({ workspace: v1, taskQueue });
  const start = async (name: string) => {
    const { workflowId } = await startTask(context.client, {
      name: `${name} ${context.runId}`,
      tags: [`run-${context.runId}`],
      data: { doc: { state: 'new' } },
      taskQueue,
    });
    context.taskIds.push(workflowId);
    return workflowId;
  };
  const inState = (id: string, state: TaskState) =>
    until(`${id} to be ${state}`, 120_000, async () => {
      const task = await getTask(context.client, id);
      return task.state === state ? task : undefined;
    });
  const waiting: TaskSnapshot[] = [];
  for (let i = 0; i < WAITING; i++) waiting.push(await inState(await start(`catalog waiting ${i}`), 'waiting'));
  const v1Catalog = waiting[0]!.catalogVersion;
  for (const task of waiting) assert.equal(task.catalogVersion, v1Catalog, 'tasks started under v1 recorded the same catalog');

  // Deploy: the new version joins the queue, then the old one drains and stops.
  const newVersion = context.startWorker({ workspace: v2, taskQueue });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await oldVersion.kill('SIGTERM');

  // A new task takes the new catalog.
  const fresh = await inState(await start('catalog new'), 'waiting');
  assert.notEqual(fresh.catalogVersion, v1Catalog, 'a task started after the deployment records the new catalog');
  await updateTask(context.client, fresh.taskId, { doc: { approved: true } });
  const freshNeedsReviewer = await inState(fresh.taskId, 'attention');
  assert.deepEqual(
    freshNeedsReviewer.trace.map((t) => t.step),
    ['draft'],
    'under v2 an approval without reviewer matches no step',
  );
  await updateTask(context.client, fresh.taskId, { doc: { reviewer: 'lin' } });
  assert.deepEqual((await waitForTask(context.client, fresh.taskId, { timeoutMs: 60_000 })).result, 'v2');

  // Waiting tasks without a reload match with the catalog they recorded (v1: no reviewer needed).
  const [kept, reloaded] = [waiting[0]!, waiting[1]!];
  await updateTask(context.client, kept.taskId, { doc: { approved: true } });
  const keptDone = await waitForTask(context.client, kept.taskId, { timeoutMs: 60_000 });
  assert.equal(keptDone.state, 'done');
  assert.equal(keptDone.catalogVersion, v1Catalog, 'without reload the task keeps its recorded catalog');

  // After a reload the waiting task uses v2: approval alone no longer completes it.
  await reloadTask(context.client, reloaded.taskId);
  await updateTask(context.client, reloaded.taskId, { doc: { approved: true } });
  const needsReviewer = await inState(reloaded.taskId, 'attention');
  assert.equal(needsReviewer.catalogVersion, fresh.catalogVersion, 'after reload the task uses the deployed catalog');
  await updateTask(context.client, reloaded.taskId, { doc: { reviewer: 'ada' } });
  const reloadedDone = await waitForTask(context.client, reloaded.taskId, { timeoutMs: 60_000 });
  assert.deepEqual(reloadedDone.data.doc, { state: 'published', approved: true, reviewer: 'ada', log: ['draft', 'review@v2 by ada'] });

  // The rest finish under their recorded catalog.
  for (const task of waiting.slice(2)) {
    await updateTask(context.client, task.taskId, { doc: { approved: true } });
    const done = await waitForTask(context.client, task.taskId, { timeoutMs: 60_000 });
    assert.equal(done.state, 'done');
    assert.equal(done.catalogVersion, v1Catalog);
  }
  await newVersion.kill('SIGTERM');
  context.figure(
    'catalog deployment',
    `${WAITING} tasks waited through a v1→v2 worker rollout: ${WAITING - 1} finished on their recorded catalog, 1 reloaded onto v2; a new task took v2`,
  );
}
