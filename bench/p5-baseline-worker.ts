/**
 * The hand-written baseline of P3 as a worker process of its own, for P5: connects through the
 * TEMPORAL_* variables (mutual TLS on the cluster), like `whenflow worker`, and serves one task queue.
 *
 *   TEMPORAL_ADDRESS=… node --import tsx bench/p5-baseline-worker.ts <task queue>
 */
import { join } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { installRuntime } from '../src/temporal/sdk-logging';
import { settingsFromEnvironment } from '../src/temporal/server';
import * as activities from './baseline/activities';
import { BENCH_DIR } from './support';

const taskQueue = process.argv[2];
if (!taskQueue) throw new Error('usage: p5-baseline-worker.ts <task queue>');
const settings = settingsFromEnvironment();
if (!settings) throw new Error('TEMPORAL_ADDRESS is not set');
installRuntime();
const connection = await NativeConnection.connect({
  address: settings.address,
  ...(settings.tls ? { tls: settings.tls === true ? {} : settings.tls } : {}),
});
const worker = await Worker.create({
  connection,
  namespace: settings.namespace,
  taskQueue,
  workflowsPath: join(BENCH_DIR, 'baseline', 'workflows.ts'),
  activities,
});
process.once('SIGTERM', () => worker.shutdown());
process.stdout.write('baseline worker ready\n');
await worker.run();
await connection.close();
process.exit(0);
