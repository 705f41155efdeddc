import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTask, waitForTask } from '../../src/client';
import { serveWebhooks } from '../../src/cli/commands/webhook';
import { parseWebhooks } from '../../src/webhooks/config';
import { openWorkspace } from '../../src/workspace/workspace';
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
    expect(typeof via.received).toBe('number');
    expect(new Date(via.received as number).toISOString()).toBe(via.receivedAt);
  });

  it('a workspace served with its whenflow.yaml gives the tasks its webhooks start its defaults', async () => {
    // The cycle workspace plus a whenflow.yaml: a hook, and a runaway guard far below the built-in 10,000.
    const dir = mkdtempSync(join(tmpdir(), 'whenflow-webhook-defaults-'));
    cpSync(workspace, dir, { recursive: true });
    writeFileSync(join(dir, 'whenflow.yaml'), `defaults:\n  maxStepRuns: 5\nwebhooks:\n  loop:\n    secret: ${SECRET}\n`);
    const served = await serveWebhooks(
      await openWorkspace(dir),
      { client: harness.client },
      { port: 0, taskQueue: harness.taskQueue },
      { out: () => {}, err: () => {} },
    );
    try {
      const response = await fetch(`${served.url}/hooks/loop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-whenflow-token': SECRET },
        body: JSON.stringify({ runaway: { count: 0 } }),
      });
      expect(response.status).toBe(202);
      const { taskId } = (await response.json()) as { taskId: string };
      const task = await waitForTask(harness.client, taskId, { timeoutMs: 60_000 });
      expect(task).toMatchObject({ state: 'error', stepRuns: 5, error: { step: 'runaway', reason: 'max-step-runs' } });
    } finally {
      await served.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
