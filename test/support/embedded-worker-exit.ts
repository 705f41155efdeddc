/**
 * A program that embeds a whenflow worker, runs one task to its end, stops the worker and returns
 * without `process.exit`: its process must then end by itself (test/integration/worker-exit.test.ts).
 * Arguments: address, namespace, workspace, task data as JSON.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startTask, waitForTask } from '../../src/client';
import { installRuntime } from '../../src/temporal/sdk-logging';
import { createTaskWorker } from '../../src/worker';

const [address, namespace, workspace, data] = process.argv.slice(2) as [string, string, string, string];
installRuntime();
const connection = await Connection.connect({ address });
const nativeConnection = await NativeConnection.connect({ address });
const client = new Client({ connection, namespace });
const taskQueue = `exit-${randomUUID()}`;
const worker = await createTaskWorker({ connection: nativeConnection, namespace, workspace, taskQueue });
const final = await worker.runUntil(async () => {
  const handle = await startTask(client, { name: 'exit', data: JSON.parse(data), taskQueue });
  return waitForTask(client, handle.workflowId, { timeoutMs: 60_000 });
});
await nativeConnection.close();
await connection.close();
process.stdout.write(`task ${final.state} after ${final.stepRuns} step runs\n`);
