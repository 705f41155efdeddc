/** The lossless rules through `whenflow run`: runs that used to hang return, and failed attempts log one line each. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunJson } from '../../src/cli/output';
import { whenflow } from '../support/cli';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'lossless');
const suiteServer = () => ({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') });
let server: Server;
let api = '';

beforeAll(async () => {
  // The check service always fails: the subtask that calls it ends in error.
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.url === '/check' ? 503 : 200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const run = async (data: object) => {
  const result = await whenflow(['run', '-w', workspace, '-d', JSON.stringify(data), '--json'], suiteServer());
  return { ...result, out: JSON.parse(result.stdout) as RunJson };
};

describe('whenflow run with the lossless rules', () => {
  it('returns with the parent in error when a subtask it waits for fails', async () => {
    const { code, out } = await run({ parent: { api } });
    expect(code).toBe(1);
    expect(out.state).toBe('error');
    expect(out.error!.message).toMatch(
      /^subtask task-[\w-]+\.1, which this task waits for, is in error: step "fragile" failed: service answered 503 on \/check$/,
    );
  });

  it('waits for a pending deadline: a task armed with completeOnExpire ends done', async () => {
    const { out } = await run({ expiry: { ms: 1500 } });
    expect(out).toMatchObject({ state: 'done', result: { expired: true } });
  });

  it('logs one line for a failed attempt, without the SDK report, and does not retry a ReferenceError', async () => {
    const { out, stderr } = await run({ typo: { api } });
    expect(out.error).toMatchObject({ step: 'typo', attempts: 1, message: 'dta is not defined' });
    const lines = stderr.split('\n').filter((line) => line.startsWith('whenflow:') || line.includes('Activity'));
    expect(lines).toEqual([
      expect.stringMatching(/^whenflow: task task-[\w-]+ step typo attempt 1 failed \(ReferenceError, not retried\): dta is not defined$/),
    ]);
    expect(stderr).not.toContain('Activity failed');
  });

  it('shows a conflict of a parallel batch in its human output, and runs the held step again', async () => {
    const { stdout, code } = await whenflow(['run', '-w', workspace, '-d', '{"history":[]}', '--concurrency', '2'], suiteServer());
    // Nothing matches at the end: attention.
    expect(code).toBe(3);
    expect(stdout).toContain(
      'conflict  cycle 1: history_second ran beside history_first, which wrote what it read or wrote at /history; its changes were not kept and it runs again if it still matches',
    );
    expect(stdout).toContain('"second"');
  });
});
