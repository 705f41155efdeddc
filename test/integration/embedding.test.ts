import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getTask, startTask, waitForTask } from '../../src/client';
import { workspaceTemplate } from '../../src/cli/commands/init';
import { installRuntime } from '../../src/temporal/sdk-logging';
import { whenflowWorkerOptions } from '../../src/worker';

/**
 * A team that runs Temporal workers already adds whenflow to one of them: the worker is the team's
 * (plain `Worker.create`), its workflows file re-exports whenflow's workflow, and whenflow's activities
 * sit next to the team's own.
 */
let workspace: string;
let client: Client;
let connection: Connection;
let nativeConnection: NativeConnection;

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'whenflow-embedded-'));
  for (const [file, text] of Object.entries(workspaceTemplate('embedded'))) {
    await mkdir(dirname(join(workspace, file)), { recursive: true });
    await writeFile(join(workspace, file), text);
  }
  installRuntime();
  connection = await Connection.connect({ address: inject('temporalAddress') });
  nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
});

afterAll(async () => {
  await connection?.close();
  await nativeConnection?.close();
  if (workspace) await rm(workspace, { recursive: true, force: true });
});

describe('whenflow inside a team’s own Temporal worker', () => {
  it('runs the team’s workflow and whenflow tasks side by side on one worker', async () => {
    const taskQueue = `team-${randomUUID()}`;
    const whenflow = await whenflowWorkerOptions({ workspace });
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: inject('temporalNamespace'),
      taskQueue,
      workflowsPath: join(import.meta.dirname, '..', 'support', 'embedded-workflows.ts'),
      activities: { ...whenflow.activities, shout: async (text: string) => text.toUpperCase() },
    });
    await worker.runUntil(async () => {
      const [greeting, task] = await Promise.all([
        client.workflow.execute('greetingWorkflow', { taskQueue, workflowId: `greeting-${randomUUID()}`, args: ['team'] }),
        (async () => {
          const handle = await startTask(client, { name: 'embedded', data: { person: { name: 'Grace' } }, taskQueue });
          return waitForTask(client, handle.workflowId, { timeoutMs: 60_000 });
        })(),
      ]);
      expect(greeting).toBe('HELLO, TEAM');
      expect(task.state).toBe('done');
      expect(task.result).toEqual({ greeting: 'Hello, Grace!' });
      expect((await getTask(client, task.taskId)).data).toEqual({ person: { name: 'Grace' }, greeting: 'Hello, Grace!' });
    });
  });

  it('gives a worker that runs only whenflow everything Worker.create needs, to spread', async () => {
    const taskQueue = `whenflow-only-${randomUUID()}`;
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: inject('temporalNamespace'),
      taskQueue,
      ...(await whenflowWorkerOptions({ workspace })),
    });
    const final = await worker.runUntil(async () => {
      const handle = await startTask(client, { data: { person: { name: 'Linus' } }, taskQueue });
      return waitForTask(client, handle.workflowId, { timeoutMs: 60_000 });
    });
    expect(final.state).toBe('done');
    expect(final.result).toEqual({ greeting: 'Hello, Linus!' });
  });
});
