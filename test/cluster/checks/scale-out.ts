import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTask } from '../../../src/client';
import type { JsonObject } from '../../../src/model/json';
import type { TaskSnapshot } from '../../../src/model/task';
import type { WorkerProcess } from '../../support/worker-process';
import { settleAll, until, type CheckContext } from '../support/context';
import type { MailServer } from '../support/mail-server';

const repo = join(import.meta.dirname, '..', '..', '..');
export const SCALE_OUT_TASKS = 300;
const WORKERS = 3;
/**
 * Steps each worker takes on at once. Three workers, four Temporal services and PostgreSQL share two
 * cores here: a worker that takes more work than it can run lets it wait past its heartbeat timeout.
 */
const STEPS_PER_WORKER = 10;

/**
 * The repository's demo workspace (steps/, connectors/, samples/) with one change: the mailer talks to
 * a real mail service over HTTP, so that "busy the first time" holds across worker processes and each
 * delivery can be counted.
 */
export function assembleDemoWorkspace(root: string): string {
  const workspace = join(root, 'demo-workspace');
  mkdirSync(workspace, { recursive: true });
  cpSync(join(repo, 'steps'), join(workspace, 'steps'), { recursive: true });
  cpSync(join(repo, 'connectors'), join(workspace, 'connectors'), { recursive: true });
  cpSync(join(import.meta.dirname, '..', 'workspaces', 'demo-overrides'), workspace, { recursive: true });
  return workspace;
}

const SAMPLES = ['order.json', 'order-standard.json'].map(
  (file) => JSON.parse(readFileSync(join(repo, 'samples', file), 'utf8')) as DemoOrder,
);

interface DemoOrder extends JsonObject {
  order: { id: string } & JsonObject;
  customer: { email: string; tier: string } & JsonObject;
}

export interface DemoInput {
  variant: number;
  orderId: string;
  email: string;
  data: DemoOrder;
}

export function demoInput(runId: string, label: string, i: number): DemoInput {
  const variant = i % SAMPLES.length;
  const sample = structuredClone(SAMPLES[variant]!);
  const orderId = `${sample.order.id}-${runId}-${label}${i}`;
  const email = `c${i}-${label}-${runId}@example.com`;
  sample.order.id = orderId;
  sample.customer.email = email;
  return { variant, orderId, email, data: sample };
}

/** The final data with what differs by construction (IDs, the recipient, the receive time) set aside. */
function comparable(task: TaskSnapshot, input: DemoInput): unknown {
  const order = task.data.order as JsonObject;
  assert.ok(
    typeof order.receivedAt === 'string' && !Number.isNaN(Date.parse(order.receivedAt)),
    `${task.taskId}: order.receivedAt is an ISO time`,
  );
  const text = JSON.stringify({ ...task.data, order: { ...order, receivedAt: '<time>' } })
    .replaceAll(task.taskId, '<task>')
    .replaceAll(input.orderId, '<order>')
    .replaceAll(input.email, '<email>');
  return JSON.parse(text);
}

function shape(task: TaskSnapshot, input: DemoInput) {
  return {
    state: task.state,
    data: comparable(task, input),
    result: JSON.parse(JSON.stringify(task.result).replaceAll(input.orderId, '<order>')) as unknown,
    stepRuns: task.stepRuns,
    steps: task.trace.map((entry) => entry.step),
  };
}

async function startBatch(context: CheckContext, inputs: DemoInput[], taskQueue: string, label: string): Promise<string[]> {
  const ids: string[] = [];
  // In slices, as a real producer would; all of them are in flight together soon after.
  for (let start = 0; start < inputs.length; start += 25) {
    const slice = inputs.slice(start, start + 25);
    const handles = await Promise.all(
      slice.map((input) =>
        startTask(context.client, {
          name: `cluster demo ${label} ${context.runId}`,
          tags: [`run-${context.runId}`, `variant-${input.variant}-${context.runId}`],
          data: input.data,
          taskQueue,
        }),
      ),
    );
    ids.push(...handles.map((handle) => handle.workflowId));
  }
  context.taskIds.push(...ids);
  return ids;
}

/**
 * Three `whenflow worker` processes on one task queue run 300 demo tasks (subtasks, a deferred call, a
 * park) while one worker is killed with SIGKILL and started again and the history service restarts.
 */
export async function scaleOutCheck(
  context: CheckContext,
  workspace: string,
  mail: MailServer,
): Promise<{ taskIds: string[]; workers: WorkerProcess[] }> {
  const taskQueue = `cluster-demo-${context.runId}`;
  const startWorker = () =>
    context.startWorker({
      workspace,
      taskQueue,
      env: { WHENFLOW_CLUSTER_MAIL_URL: mail.url },
      args: ['--max-concurrent-steps', String(STEPS_PER_WORKER)],
    });
  const workers = Array.from({ length: WORKERS }, startWorker);
  context.log(`scale-out: ${WORKERS} worker processes on task queue ${taskQueue} (pids ${workers.map((w) => w.pid).join(', ')})`);

  // Reference: one fault-free task per sample.
  const references = SAMPLES.map((_, variant) => demoInput(context.runId, 'ref', variant));
  const referenceIds = await startBatch(context, references, taskQueue, 'reference');
  const referenceTasks = await settleAll(context.client, referenceIds, 180_000, `run-${context.runId}`);
  const expected = referenceTasks.map((task, variant) => shape(task, references[variant]!));
  for (const reference of expected) assert.equal(reference.state, 'done', 'the fault-free reference tasks end done');

  const inputs = Array.from({ length: SCALE_OUT_TASKS }, (_, i) => demoInput(context.runId, 't', i));
  const recipients = new Set(inputs.map((input) => input.email));
  const deliveredToBatch = () => [...mail.delivered.keys()].filter((to) => recipients.has(to)).length;
  const started = Date.now();
  const ids = await startBatch(context, inputs, taskQueue, 'batch');
  context.log(`scale-out: ${ids.length} tasks started in ${Date.now() - started} ms`);

  const alive = (what: string) => {
    for (const worker of workers)
      if (worker.output().includes('FATAL')) throw new Error(`worker ${worker.pid} failed before ${what}: ${worker.output()}`);
  };
  await until('a sixth of the batch delivered its mail', 300_000, async () =>
    deliveredToBatch() >= SCALE_OUT_TASKS / 6 ? true : undefined,
  );
  alive('the kill');
  const victim = workers[1]!;
  const { signal } = await victim.kill('SIGKILL');
  assert.equal(signal, 'SIGKILL');
  workers[1] = startWorker();
  context.log(
    `scale-out: worker ${victim.pid} killed with SIGKILL after ${deliveredToBatch()} deliveries; started ${workers[1].pid} in its place`,
  );

  await until('half of the batch delivered its mail', 300_000, async () => (deliveredToBatch() >= SCALE_OUT_TASKS / 2 ? true : undefined));
  const historyBefore = context.cluster.processes().history.pid;
  const restartStarted = Date.now();
  await context.cluster.restart('history');
  context.log(
    `scale-out: history service restarted (pid ${historyBefore} → ${context.cluster.processes().history.pid}, ${Date.now() - restartStarted} ms) after ${deliveredToBatch()} deliveries`,
  );

  const settled = await settleAll(context.client, ids, 600_000, `run-${context.runId}`);
  const elapsed = (Date.now() - started) / 1000;

  let stepRuns = 0;
  settled.forEach((task, i) => {
    const input = inputs[i]!;
    assert.deepEqual(
      shape(task, input),
      expected[input.variant],
      `task ${task.taskId} (${input.orderId}) ends with the data of the fault-free run`,
    );
    stepRuns += task.stepRuns;
    // Each effect outside the task data once: one delivery for the recipient, after one busy refusal.
    const deliveries = mail.delivered.get(input.email) ?? [];
    assert.equal(deliveries.length, 1, `${input.email}: exactly one mail delivered (got ${deliveries.length})`);
    assert.notEqual(
      mail.busyKey.get(input.email),
      deliveries[0]!.key,
      `${input.email}: the delivered send is the redo, not the refused one`,
    );
  });
  // Subtasks: every picked item is the outcome of a subtask that ended done.
  const subtasks = settled.flatMap((task) =>
    Object.values((task.data.order as { picked: Record<string, { state: string; taskId: string }> }).picked),
  );
  for (const subtask of subtasks) assert.equal(subtask.state, 'done', `subtask ${subtask.taskId} ended done`);

  context.figure(
    'scale-out tasks',
    `${settled.length} done (+${referenceIds.length} fault-free references), ${subtasks.length} subtasks, ${stepRuns} step executions`,
  );
  context.figure(
    'scale-out throughput',
    `${(settled.length / elapsed).toFixed(1)} tasks/s over ${elapsed.toFixed(0)} s with ${WORKERS} workers, 1 SIGKILL + 1 history restart`,
  );
  context.figure(
    'mail service',
    `${mail.deliveredCount()} deliveries for ${recipients.size + references.length} recipients, ${mail.requests} requests, ${mail.repeatedKeys} repeated sends answered from the earlier delivery`,
  );
  return { taskIds: ids, workers };
}
