import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForTask } from '../../src/client';
import type { Io } from '../../src/cli/commands/task';
import { serveWebhooks } from '../../src/cli/commands/webhook';
import type { WebhookServer } from '../../src/webhooks/server';
import { openWorkspace } from '../../src/workspace/workspace';
import { startHarness, type TestHarness } from '../support/temporal';

/**
 * Deliveries signed exactly as GitHub and Stripe document it, posted to hooks whose names have spaces,
 * each posted twice: the second delivery must answer with the first delivery's task.
 */
const GITHUB_SECRET = 'github-hook-secret-0123456789';
const STRIPE_SECRET = 'whsec_stripe-style-secret-0123456789';

let workspace: string;
let harness: TestHarness;
let server: WebhookServer;

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'whenflow-webhook-senders-'));
  mkdirSync(join(workspace, 'steps'));
  writeFileSync(join(workspace, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(workspace, 'whenflow.yaml'),
    [
      'webhooks:',
      '  github pushes:',
      `    secret: ${GITHUB_SECRET}`,
      '    auth: github',
      '    idempotencyKey: { header: X-GitHub-Delivery }',
      '  stripe events:',
      `    secret: ${STRIPE_SECRET}`,
      '    auth: stripe',
      '    tolerance: 5m',
      '    idempotencyKey: { path: id }',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(workspace, 'steps', 'record.mjs'),
    "export const condition = { $via: { type: 'webhook', received: Number } };\nexport const content = async () => { task.complete({ hook: data.$via.name, received: data.$via.received }); };\n",
  );
  harness = await startHarness(workspace);
  const ws = await openWorkspace(workspace);
  expect(ws.problems).toEqual([]);
  const quiet: Io = { out: () => {}, err: () => {} };
  server = await serveWebhooks(ws, { client: harness.client }, { port: 0, taskQueue: harness.taskQueue }, quiet);
});

afterAll(async () => {
  await server?.close();
  await harness?.close();
  rmSync(workspace, { recursive: true, force: true });
});

const githubSignature = (body: string) => `sha256=${createHmac('sha256', GITHUB_SECRET).update(body).digest('hex')}`;
const stripeSignature = (body: string, t: number) =>
  `t=${t},v1=${createHmac('sha256', STRIPE_SECRET).update(`${t}.${body}`).digest('hex')}`;

async function deliver(hook: string, body: string, headers: Record<string, string>) {
  const response = await fetch(`${server.url}/hooks/${encodeURIComponent(hook)}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: response.status, body: (await response.json()) as { taskId?: string; error?: string } };
}

async function runsOf(taskId: string): Promise<number> {
  let runs = 0;
  for await (const _ of harness.client.workflow.list({ query: `WorkflowId = '${taskId}'` })) runs += 1;
  return runs;
}

describe('webhooks from real senders, on a real Temporal server', () => {
  it('a GitHub-signed delivery starts one task; its redelivery (same X-GitHub-Delivery) returns the same task', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/shop' } });
    const headers = {
      'x-github-event': 'push',
      'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      'x-hub-signature-256': githubSignature(body),
    };
    const first = await deliver('github pushes', body, headers);
    expect(first.status).toBe(202);
    const task = await waitForTask(harness.client, first.body.taskId!, { timeoutMs: 60_000 });
    expect(task.state).toBe('done');
    expect(task.result).toMatchObject({ hook: 'github pushes', received: expect.any(Number) });
    const via = task.data.$via as Record<string, unknown>;
    expect(via).toMatchObject({ type: 'webhook', name: 'github pushes', deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    expect(Math.abs(Number(via.received) - Date.now())).toBeLessThan(120_000);
    expect(new Date(Number(via.received)).toISOString()).toBe(via.receivedAt);

    // Redelivered after the first task ended: the same task, nothing new started.
    const again = await deliver('github pushes', body, headers);
    expect(again).toEqual({ status: 202, body: { taskId: first.body.taskId, via: { id: expect.any(String) } } });
    expect(await runsOf(first.body.taskId!)).toBe(1);

    // A body changed after signing, or a wrong secret, is refused.
    const tampered = await deliver('github pushes', body.replace('main', 'evil'), headers);
    expect(tampered.status).toBe(401);
    expect(tampered.body.error).toContain('X-Hub-Signature-256 does not match');
  });

  it('a Stripe-signed delivery starts one task; its redelivery (same event id) returns the same task, even while it runs', async () => {
    const event = {
      id: 'evt_1NG8Du2eZvKYlo2CUI79vXWy',
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { amount: 2000 } },
    };
    const body = JSON.stringify(event);
    const t = Math.floor(Date.now() / 1000);
    // Delivered twice at once: one task, whichever delivery arrives first.
    const [a, b] = await Promise.all([
      deliver('stripe events', body, { 'stripe-signature': stripeSignature(body, t) }),
      deliver('stripe events', body, { 'stripe-signature': stripeSignature(body, t + 1) }),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body.taskId).toBe(a.body.taskId);
    const task = await waitForTask(harness.client, a.body.taskId!, { timeoutMs: 60_000 });
    expect(task.state).toBe('done');
    expect(task.data).toMatchObject({
      id: event.id,
      type: 'payment_intent.succeeded',
      $via: { name: 'stripe events', deliveryId: event.id },
    });
    expect(await runsOf(a.body.taskId!)).toBe(1);
    const later = await deliver('stripe events', body, { 'stripe-signature': stripeSignature(body, Math.floor(Date.now() / 1000)) });
    expect(later.body.taskId).toBe(a.body.taskId);

    // A captured delivery replayed after the tolerance window is refused, though its signature is right.
    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    const replay = await deliver('stripe events', body, { 'stripe-signature': stripeSignature(body, stale) });
    expect(replay.status).toBe(401);
    expect(replay.body.error).toMatch(/outside this webhook's tolerance of 300 s/);
    // Signed with another secret: refused.
    const forged = await deliver('stripe events', body, {
      'stripe-signature': `t=${t},v1=${createHmac('sha256', 'another-secret-0123456789').update(`${t}.${body}`).digest('hex')}`,
    });
    expect(forged.status).toBe(401);
    // Without the key the hook takes its idempotency from, nothing starts.
    const noId = JSON.stringify({ type: 'ping' });
    const missing = await deliver('stripe events', noId, { 'stripe-signature': stripeSignature(noId, t) });
    expect(missing).toEqual({ status: 400, body: { error: expect.stringContaining('no idempotency key at id') } });
  });

  it('different deliveries start different tasks', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/dev' });
    const sign = { 'x-hub-signature-256': githubSignature(body) };
    const one = await deliver('github pushes', body, { ...sign, 'x-github-delivery': 'delivery-one' });
    const two = await deliver('github pushes', body, { ...sign, 'x-github-delivery': 'delivery-two' });
    expect(one.status).toBe(202);
    expect(two.status).toBe(202);
    expect(one.body.taskId).not.toBe(two.body.taskId);
  });
});
