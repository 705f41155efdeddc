import pc from 'picocolors';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { startTask, type StartTaskOptions } from '../../client';
import type { TemporalSession } from '../../temporal/server';
import { startWebhookServer, type WebhookServer } from '../../webhooks/server';
import { workspaceTaskQueue, workspaceTaskSettings } from '../../workspace/config';
import type { Workspace } from '../../workspace/workspace';
import { connectForCommands } from '../connect';
import { UsageError } from '../errors';
import { readWorkspace } from '../input';
import { interrupted } from '../signals';
import type { Io } from './task';

export { DEFAULT_WEBHOOK_PORT } from '../arguments';

/**
 * Starts the task of one delivery. A delivery with an idempotency key has a task ID of its own: when a task
 * with that ID exists (running, or ended and still on the server), its ID is returned and nothing starts.
 */
export async function startWebhookTask(client: Client, options: StartTaskOptions): Promise<{ taskId: string }> {
  if (options.taskId === undefined) return { taskId: (await startTask(client, options)).workflowId };
  try {
    return { taskId: (await startTask(client, { ...options, ifExists: 'return-existing' })).workflowId };
  } catch (error) {
    // A task with this ID that has ended: Temporal refuses a new one (REJECT_DUPLICATE).
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { taskId: options.taskId };
    throw error;
  }
}

/** Serves the workspace's webhooks: each accepted request starts a task on `session`. */
export async function serveWebhooks(
  ws: Workspace,
  session: Pick<TemporalSession, 'client'>,
  options: { port: number; host?: string; taskQueue: string },
  io: Io,
): Promise<WebhookServer> {
  const server = await startWebhookServer({
    hooks: ws.webhooks,
    limits: ws.webhookLimits,
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    log: (line) => io.err(pc.dim(line)),
    start: (task) => startWebhookTask(session.client, { ...workspaceTaskSettings(ws.config), ...task, taskQueue: options.taskQueue }),
  });
  io.err(`webhooks  ${[...ws.webhooks.keys()].map((name) => `${server.url}/hooks/${encodeURIComponent(name)}`).join(', ')}`);
  return server;
}

/** `whenflow webhook`: the webhook receiver alone, starting tasks on TEMPORAL_ADDRESS (else localhost:7233). */
export async function webhookCommand(opts: { workspace: string; port: number; host?: string; taskQueue?: string }, io: Io): Promise<void> {
  const ws = await readWorkspace(opts.workspace);
  if (ws.webhooks.size === 0) throw new UsageError(`workspace ${ws.dir} declares no webhooks (add a webhooks: section to whenflow.yaml)`);
  const session = await connectForCommands();
  try {
    const server = await serveWebhooks(
      ws,
      session,
      { port: opts.port, ...(opts.host ? { host: opts.host } : {}), taskQueue: opts.taskQueue ?? workspaceTaskQueue(ws.config, ws.dir) },
      io,
    );
    io.err(pc.dim('Ctrl-C to stop'));
    await interrupted();
    await server.close();
  } finally {
    await session.close();
  }
}
