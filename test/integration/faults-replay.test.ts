import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTask, reloadTask, startTask, updateTask, waitForTask } from '../../src/client';
import type { TaskSnapshot, TaskState } from '../../src/model/task';
import { workflowBundle } from '../../src/worker';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

/**
 * R3 of fault injection: histories replay exactly with the current code, also when the step files a
 * task started with have changed since; `reload` makes a waiting task use the changed files.
 */
const source = join(import.meta.dirname, '..', 'workspaces', 'faults-reload');
// A private copy: the test rewrites step files while tasks wait.
const workspace = mkdtempSync(join(tmpdir(), 'whenflow-faults-reload-'));
cpSync(source, workspace, { recursive: true });
let harness: TestHarness;

beforeAll(async () => {
  harness = await startHarness(workspace);
});

afterAll(async () => {
  if (harness) {
    expect(await replayTasks(harness.client, harness.taskIds, 'faults-replay')).toBe(harness.taskIds.length);
    await harness.close();
  }
  rmSync(workspace, { recursive: true, force: true });
});

async function until(taskId: string, state: TaskState, timeoutMs = 30_000): Promise<TaskSnapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const snapshot = await getTask(harness.client, taskId);
    if (snapshot.state === state) return snapshot;
    if (Date.now() > deadline) throw new Error(`task ${taskId} is ${snapshot.state}, not ${state}, after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function replayOne(taskId: string): Promise<void> {
  const history = await harness.client.workflow.getHandle(taskId).fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, taskId);
}

const reviewV2 = `// Version 2: a review needs a reviewer now.
export const condition = { doc: { state: 'review', approved: true, reviewer: String } };
export const content = async () => {
  data.doc.log.push(\`review@v2 by \${data.doc.reviewer}\`);
  data.doc.state = 'published';
  task.complete('v2');
};
`;

describe('R3: a step file changes between a task start and its end', () => {
  it('replay stays exact; without reload the recorded conditions apply, reload switches to the new ones', async () => {
    const start = async (name: string) => {
      const { workflowId } = await startTask(harness.client, { name, data: { doc: { state: 'new' } }, taskQueue: harness.taskQueue });
      harness.taskIds.push(workflowId);
      return until(workflowId, 'waiting');
    };
    const kept = await start('keeps its catalog');
    const reloaded = await start('reloads');
    expect(kept.data.doc).toEqual({ state: 'review', log: ['draft'] });

    writeFileSync(join(workspace, 'steps', 'review.mjs'), reviewV2);
    // The histories so far replay with the files changed under them: the catalog is in the history.
    await replayOne(kept.taskId);
    await replayOne(reloaded.taskId);

    // Without a reload the task matches with the catalog it recorded (v1: no reviewer needed); the step
    // activity runs the file as it is on disk now (v2 content).
    await updateTask(harness.client, kept.taskId, { doc: { approved: true } });
    const keptDone = await waitForTask(harness.client, kept.taskId, { timeoutMs: 30_000 });
    expect(keptDone).toMatchObject({ state: 'done', result: 'v2', catalogVersion: kept.catalogVersion });
    expect(keptDone.data.doc).toMatchObject({ log: ['draft', 'review@v2 by undefined'] });

    // A reload takes effect at the task's next cycle: the parked task, woken by new data, loads v2,
    // whose condition wants a reviewer too.
    await reloadTask(harness.client, reloaded.taskId);
    await updateTask(harness.client, reloaded.taskId, { doc: { approved: true } });
    const waitingForReviewer = await until(reloaded.taskId, 'attention');
    expect(waitingForReviewer.catalogVersion).not.toBe(reloaded.catalogVersion);
    expect(waitingForReviewer.trace.map((t) => t.step)).toEqual(['draft']);
    await updateTask(harness.client, reloaded.taskId, { doc: { reviewer: 'ada' } });
    const reloadedDone = await waitForTask(harness.client, reloaded.taskId, { timeoutMs: 30_000 });
    expect(reloadedDone).toMatchObject({ state: 'done', result: 'v2' });
    expect(reloadedDone.data.doc).toEqual({ state: 'published', approved: true, reviewer: 'ada', log: ['draft', 'review@v2 by ada'] });

    // The whole histories replay exactly even with the step file gone.
    rmSync(join(workspace, 'steps', 'review.mjs'));
    await replayOne(kept.taskId);
    await replayOne(reloaded.taskId);
  });
});

describe('R3: every history on the suite server replays with the current code', () => {
  it('replays each task workflow the suite has run so far (every test file, every state)', async () => {
    // Tasks of this file at least; tasks of the files that ran before it on the same server too.
    await harness.runTask({ name: 'replay-all', data: { doc: { state: 'review', approved: true, reviewer: 'bo' } } });
    const histories = harness.client.workflow.list({ query: 'WorkflowType = "taskWorkflow"' }).intoHistories({ concurrency: 5 });
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBeGreaterThanOrEqual(harness.taskIds.length);
    console.log(`R3: replayed ${replayed} task histories from the suite server`);
  }, 300_000);
});
