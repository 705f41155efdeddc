import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { describe, expect, it } from 'vitest';
import { provisionTemporalBinary } from '../../src/temporal/binary';
import { portInUse, spawnDevServer } from '../../src/temporal/dev-server';
import { whenflow } from '../support/cli';

/** Processes of a Temporal dev server started on this port (the server itself, not its watchdog). */
function serverProcesses(port: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter(
      (line) => line.includes('server start-dev') && line.includes(`--port ${port} `) && !line.includes('whenflow-temporal-watchdog'),
    );
}

async function localBinary(): Promise<string> {
  const binary = await provisionTemporalBinary();
  if (!binary) throw new Error('this test needs a local Temporal CLI (see docs/server.md)');
  return binary;
}

describe('the embedded dev server', () => {
  it('serves as soon as it is reported started, and a server in memory is gone once stop() resolves', async () => {
    const server = await spawnDevServer({ binary: await localBinary() });
    const port = server.address.split(':')[1]!;
    const connection = await Connection.connect({ address: server.address });
    try {
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toMatch(/\d+\.\d+/);
      expect(serverProcesses(port)).toHaveLength(1);
    } finally {
      await connection.close();
      await server.stop();
    }
    expect(serverProcesses(port)).toEqual([]);
    expect(await portInUse(Number(port))).toBe(false);
  });

  it('stops a server with a database file gracefully: what it stored is there when it starts again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'whenflow-dev-server-'));
    const dbFilename = join(dir, 'dev.db');
    try {
      const binary = await localBinary();
      const first = await spawnDevServer({ binary, dbFilename });
      const firstConnection = await Connection.connect({ address: first.address });
      await firstConnection.workflowService.registerNamespace({ namespace: 'kept', workflowExecutionRetentionPeriod: msToTs('1 day') });
      await firstConnection.close();
      await first.stop();
      expect(serverProcesses(first.address.split(':')[1]!)).toEqual([]);

      const second = await spawnDevServer({ binary, dbFilename });
      const secondConnection = await Connection.connect({ address: second.address });
      try {
        const kept = await secondConnection.workflowService.describeNamespace({ namespace: 'kept' });
        expect(kept.namespaceInfo?.name).toBe('kept');
      } finally {
        await secondConnection.close();
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('whenflow run start-up', () => {
  it('with WHENFLOW_TIMINGS=1 logs its phases on stderr, in order, and stdout keeps the one JSON object', async () => {
    const { code, stdout, stderr } = await whenflow(['run', '-w', '.', '-f', 'samples/order.json', '--json'], {
      TEMPORAL_ADDRESS: undefined,
      WHENFLOW_TIMINGS: '1',
    });
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { state: string }).state).toBe('done');
    const phases = [...stderr.matchAll(/^whenflow timings: +\d+ ms +cpu +\d+ ms +(.+)$/gm)].map((m) => m[1]);
    // The server's process is spawned before the Temporal SDK is loaded, and stopped last.
    for (const [earlier, later] of [
      ['run: started', 'run: server spawned'],
      ['run: server spawned', 'run: Temporal runtime installed'],
      ['run: Temporal runtime installed', 'run: server connected'],
      ['run: server connected', 'run: worker created'],
      ['run: worker created', 'run: task started'],
      ['run: task started', 'run: task settled'],
      ['run: task settled', 'run: worker stopped'],
      ['run: worker stopped', 'run: server stopped'],
    ]) {
      expect(phases, `${earlier} before ${later}`).toContain(earlier);
      expect(phases.indexOf(earlier)).toBeLessThan(phases.indexOf(later!));
    }
    expect(phases.at(-1)).toBe('run: server stopped');
    // Killed at once, as a server in memory has nothing to keep: nothing of it is left when the command ends.
    const port = /started on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1];
    expect(port).toBeDefined();
    expect(serverProcesses(port!)).toEqual([]);
  });

  it('logs no phases by default', async () => {
    const { code, stderr } = await whenflow(['run', '-w', 'no/such/dir', '-d', '{}'], {
      TEMPORAL_ADDRESS: undefined,
      WHENFLOW_TIMINGS: undefined,
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/workspace .*no\/such\/dir is not a directory/);
    expect(stderr).not.toContain('whenflow timings');
  });
});
