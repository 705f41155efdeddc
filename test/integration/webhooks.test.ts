import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTask, waitForTask } from '../../src/client';
import { parseWebhooks } from '../../src/webhooks/config';
import { startWebhookServer, type WebhookServer } from '../../src/webhooks/server';
import { startHarness, type TestHarness } from '../support/temporal';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'cycle');
const SECRET = 'integration-hook-secret-0123';
let harness: TestHarness;
let server: WebhookServer;

beforeAll(async () => {
  harness = await startHarness(workspace);
  const { hooks, problems } = parseWebhooks({ sequence: { secret: SECRET, taskName: 'sequence from webhook', tags: ['webhook-test'] } });
  expect(problems).toEqual([]);
  server = await startWebhookServer({
    hooks,
    start: (t) => startTask(harness.client, { ...t, taskQueue: harness.taskQueue }).then((h) => ({ taskId: h.workflowId })),
    log: () => {},
  });
});

afterAll(async () => {
  await server?.close();
  await harness?.close();
});

describe('webhooks on a real Temporal server', () => {
  it('a POST starts a task that runs to completion, with $via recording the webhook', async () => {
    const response = await fetch(`${server.url}/hooks/sequence`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-whenflow-token': SECRET },
      body: JSON.stringify({ seq: { stage: 'a' } }),
    });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { taskId: string; via: { id: string } };
    expect(body.taskId).toMatch(/^task-/);

    const task = await waitForTask(harness.client, body.taskId, { timeoutMs: 60_000 });
    expect(task.taskId).toBe(body.taskId);
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ stages: 3 });
    expect(task.name).toBe('sequence from webhook');
    expect(task.tags).toEqual(['webhook-test']);
    expect(task.trace.map((t) => t.step)).toEqual(['seq_a', 'seq_b', 'seq_c']);
    const via = task.data.$via as Record<string, unknown>;
    expect(via.type).toBe('webhook');
    expect(via.name).toBe('sequence');
    expect(via.id).toBe(body.via.id);
    expect(Date.parse(String(via.received))).not.toBeNaN();
  });
});
