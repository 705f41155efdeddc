/**
 * `npm run test:cluster`: whenflow on a production-shaped Temporal server. Provisions (cached) and starts
 * PostgreSQL and the Temporal server as four processes, runs the checks against them, prints what it
 * started and what it measured, and stops everything it started, also when a check fails.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TemporalSession } from '../../src/temporal/server';
import { installRuntime } from '../../src/temporal/sdk-logging';
import { catalogCheck } from './checks/catalog';
import { assembleDemoWorkspace, scaleOutCheck } from './checks/scale-out';
import { replayCheck, tlsCheck } from './checks/tls-and-replay';
import { visibilityCheck } from './checks/visibility';
import { workerStarter, type CheckContext } from './support/context';
import { MailServer } from './support/mail-server';
import { stopAll } from './support/processes';
import { databaseWrites, describeError, standUpCluster } from './support/stand-up';
import type { WorkerProcess } from '../support/worker-process';

const began = Date.now();
const stamp = () => `${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s`;
const log = (line: string) => process.stdout.write(`[${stamp()}] ${line}\n`);

const figures: [string, string][] = [];
const checks: { name: string; ok: boolean; ms: number; error?: string }[] = [];

async function check(name: string, run: () => Promise<void>): Promise<void> {
  const started = Date.now();
  log(`check: ${name}`);
  try {
    await run();
    checks.push({ name, ok: true, ms: Date.now() - started });
    log(`check passed: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    const message = describeError(error);
    checks.push({ name, ok: false, ms: Date.now() - started, error: message });
    log(`check FAILED: ${name}\n${message}`);
  }
}

async function main(): Promise<number> {
  installRuntime();
  const root = mkdtempSync(join(tmpdir(), 'whenflow-cluster-'));
  // PostgreSQL runs as its own system user when this runs as root: it must be able to pass through.
  chmodSync(root, 0o711);
  const workers: WorkerProcess[] = [];
  const mail = new MailServer();
  let session: TemporalSession | null = null;
  let stopping = false;
  const cleanUp = async () => {
    if (stopping) return;
    stopping = true;
    for (const worker of workers) await worker.kill('SIGKILL');
    await session?.close().catch(() => undefined);
    await mail.stop();
    await stopAll(log);
    rmSync(root, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`received ${signal}: stopping everything`);
      void cleanUp().finally(() => process.exit(1));
    });
  }

  try {
    const stood = await standUpCluster(root, log);
    const { cluster, postgres } = stood;
    session = stood.session;
    await mail.start();
    log(`cluster: mail service on ${mail.url}`);

    const context: CheckContext = {
      cluster,
      client: session.client,
      runId: randomBytes(3).toString('hex'),
      log,
      figure: (name, value) => figures.push([name, value]),
      startWorker: workerStarter(cluster, workers),
      taskIds: [],
    };
    const workspace = assembleDemoWorkspace(root);
    let batch: { taskIds: string[]; taskQueue: string } | null = null;
    await check('300 demo tasks on 3 workers, one SIGKILLed and restarted, the history service restarted', async () => {
      const result = await scaleOutCheck(context, workspace, mail);
      batch = { taskIds: result.taskIds, taskQueue: `cluster-demo-${context.runId}` };
    });
    await check('task list and temporal workflow list through SQL visibility', async () => {
      if (!batch) throw new Error('needs the tasks of the scale-out check');
      await visibilityCheck(context, batch);
    });
    await check('a changed step catalog deployed while tasks wait', () => catalogCheck(context, root));
    await check('mutual TLS between workers, commands and the frontend', () => tlsCheck(context));
    for (const worker of workers) await worker.kill('SIGTERM');
    await check('every history replays exactly', async () => {
      await replayCheck(context);
    });
    const cpu = cluster.cpuMs();
    figures.push([
      'server CPU',
      Object.entries(cpu)
        .map(([service, ms]) => `${service} ${(ms / 1000).toFixed(1)} s`)
        .join(', '),
    ]);
    const writes = databaseWrites(postgres);
    figures.push([
      'database',
      `${writes.rows} rows written, ${writes.commits} transactions (reads included), ${(writes.walBytes / 1e6).toFixed(0)} MB of WAL in temporal and temporal_visibility`,
    ]);
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    checks.push({ name: 'cluster set-up', ok: false, ms: 0, error: message });
    log(`cluster set-up FAILED:\n${message}`);
  } finally {
    await cleanUp();
  }

  log('');
  log('figures:');
  for (const [name, value] of figures) log(`  ${name}: ${value}`);
  const failed = checks.filter((c) => !c.ok);
  log(`cluster checks: ${checks.length - failed.length} passed, ${failed.length} failed, in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  return failed.length === 0 && checks.length > 0 ? 0 : 1;
}

// The Temporal runtime keeps native threads alive; the run ends here.
process.exit(await main());
