import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { z } from 'zod';
import { startTask } from '../../../src/client';
import { findTemporalBinary } from '../../../src/temporal/binary';
import { whenflow } from '../../support/cli';
import { until, type CheckContext } from '../support/context';

const execFileAsync = promisify(execFile);

const ListedTask = z.object({ taskId: z.string(), name: z.string(), state: z.string(), tags: z.array(z.string()) });
const ListedExecution = z.object({ execution: z.object({ workflowId: z.string() }) });

function sorted(ids: Iterable<string>): string[] {
  return [...ids].sort();
}

/**
 * `whenflow task list --state/--name/--tag` and `temporal workflow list --query` find exactly the right
 * tasks through SQL visibility: the scale-out batch (done) and a few tasks left in attention.
 */
export async function visibilityCheck(context: CheckContext, batch: { taskIds: string[]; taskQueue: string }): Promise<void> {
  // Tasks no step matches: they stay in attention.
  const attentionName = `cluster attention ${context.runId}`;
  const attentionTag = `attention-${context.runId}`;
  const attention = await Promise.all(
    [1, 2, 3].map(
      async (n) =>
        (
          await startTask(context.client, {
            name: attentionName,
            tags: [attentionTag, `run-${context.runId}`],
            data: { order: { status: 'unknown', n } },
            taskQueue: batch.taskQueue,
          })
        ).workflowId,
    ),
  );
  context.taskIds.push(...attention);

  const list = async (args: string[]) => {
    const result = await whenflow(['task', 'list', '--json', '--limit', '1000', ...args], context.cluster.clientEnv);
    assert.equal(result.code, 0, `whenflow task list ${args.join(' ')} failed: ${result.stderr}`);
    return z.array(ListedTask).parse(JSON.parse(result.stdout));
  };
  const listUntil = async (what: string, args: string[], expected: string[]) => {
    let last: string[] = [];
    try {
      return await until(what, 60_000, async () => {
        const tasks = await list(args);
        last = sorted(tasks.map((task) => task.taskId));
        return JSON.stringify(last) === JSON.stringify(sorted(expected)) ? tasks : undefined;
      });
    } catch (error) {
      throw new Error(`${what}: whenflow task list ${args.join(' ')} found ${last.length} tasks, expected ${expected.length}`, {
        cause: error,
      });
    }
  };

  const batchName = `cluster demo batch ${context.runId}`;
  await listUntil('the batch by --name and --state done', ['--name', batchName, '--state', 'done'], batch.taskIds);
  // Variant 0 is every other task of the batch (and the first reference task).
  const variantTag = `variant-0-${context.runId}`;
  const byTag = await list(['--tag', variantTag]);
  assert.equal(byTag.length, batch.taskIds.length / 2 + 1, `--tag ${variantTag} finds half of the batch and one reference task`);
  for (const task of byTag) assert.ok(task.tags.includes(variantTag), `${task.taskId} carries ${variantTag}`);
  const attentionListed = await listUntil(
    'the attention tasks by --state and --tag',
    ['--state', 'attention', '--tag', attentionTag],
    attention,
  );
  for (const task of attentionListed) assert.equal(task.name, attentionName);
  assert.deepEqual(await list(['--state', 'error', '--tag', `run-${context.runId}`]), [], 'no task of this run is in error');

  // The Temporal CLI, over the same mutual TLS, with the search attributes in a visibility query.
  const temporal = findTemporalBinary();
  assert.ok(temporal, 'the Temporal CLI is available (npm test provisions it)');
  const { certs } = context.cluster;
  // How the Temporal CLI reaches the cluster: its address and namespace, over mutual TLS.
  const connection = [
    '--address',
    context.cluster.address,
    '--namespace',
    context.cluster.namespace,
    '--tls-ca-path',
    certs.caCert,
    '--tls-cert-path',
    certs.clientCert,
    '--tls-key-path',
    certs.clientKey,
    '--tls-server-name',
    certs.serverName,
  ];
  const query = `WhenflowState="attention" AND WhenflowTags="${attentionTag}"`;
  const { stdout } = await execFileAsync(temporal, ['workflow', 'list', '--query', query, '--output', 'json', ...connection]);
  const listed = parseJsonList(stdout).map((entry) => ListedExecution.parse(entry).execution.workflowId);
  assert.deepEqual(sorted(listed), sorted(attention), `temporal workflow list --query '${query}' finds the attention tasks`);

  const count = await execFileAsync(temporal, [
    'workflow',
    'count',
    '--query',
    `WhenflowName="${batchName}" AND WhenflowState="done"`,
    ...connection,
  ]);
  assert.match(
    count.stdout,
    new RegExp(`\\b${batch.taskIds.length}\\b`),
    `temporal workflow count finds the ${batch.taskIds.length} done tasks: ${count.stdout}`,
  );
  context.figure(
    'visibility',
    `task list --name/--state/--tag and temporal workflow list/count found ${batch.taskIds.length} done, ${byTag.length} tagged, ${attention.length} attention tasks`,
  );

  for (const id of attention) {
    const result = await whenflow(['task', 'stop', id], context.cluster.clientEnv);
    assert.equal(result.code, 0, `whenflow task stop ${id}: ${result.stderr}`);
  }
}

/** `temporal … --output json` prints one JSON array, or one object per line in some versions. */
function parseJsonList(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('[')) return z.array(z.unknown()).parse(JSON.parse(trimmed));
  return trimmed
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);
}
