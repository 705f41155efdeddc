import { join } from 'node:path';
import { afterAll, beforeAll, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/worker';
import { startHarness, type TestHarness } from '../support/temporal';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'run-ahead');
let harness: TestHarness;
beforeAll(async () => { harness = await startHarness(workspace); });
afterAll(async () => { await harness?.close(); });

it('explore', async () => {
  const names: Record<string, string> = {};
  const run = async (name: string, opts: object) => { const t = await harness.runTask({ name, ...opts } as never); names[t.taskId] = name; console.log(name, t.state); };
  await run('warm', { data: { warm: true } });
  await new Promise((r) => setTimeout(r, 3000));
  const { createServer } = await import('node:http');
  let n = 0;
  const server = createServer((req, res) => { n++; res.setHeader('connection', 'close'); if (req.url?.startsWith('/flaky')) res.end(n === 1 ? 'fail' : 'ok'); else res.end('{"stock":7}'); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  for (const i of [1, 2, 3, 4, 5, 6, 7, 8]) { n = 0; await run(`flaky${i}`, { data: { flaky: { url, start: true } } }); }
  server.close();
  const bundle = await workflowBundle();
  for (const id of harness.taskIds) {
    const history = await harness.client.workflow.getHandle(id).fetchHistory();
    (await import('node:fs')).writeFileSync(`/tmp/ra/h-${names[id]}.json`, (await import('@temporalio/common/lib/proto-utils')).historyToJSON(history));
    try { await Worker.runReplayHistory({ workflowBundle: bundle }, history, id); console.log('REPLAY ok', names[id]); }
    catch (e) { console.log('REPLAY FAIL', names[id], String(e).slice(0, 200)); }
  }
}, 120_000);
