import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TASK_NAME_KEY, TASK_STATE_KEY, TASK_TAGS_KEY } from '../../../src/model/search-attributes';
import { provisionTemporalBinary } from '../../../src/temporal/binary';
import { connectToServer, settingsFromEnvironment, type TemporalSession } from '../../../src/temporal/server';
import { makeTestCertificates } from './certs';
import { startPostgres, type PostgresServer } from './postgres';
import { freePort, waitFor } from './processes';
import { provisionCluster } from './provision';
import { startTemporalCluster, type TemporalCluster } from './temporal-cluster';

export interface StoodUp {
  postgres: PostgresServer;
  cluster: TemporalCluster;
  /** whenflow's own connection (TEMPORAL_* variables of the cluster: mutual TLS). */
  session: TemporalSession;
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `\ncaused by: ${error.cause.message}` : '';
  return `${error.stack ?? error.message}${cause}`;
}

/**
 * Provisions what is missing, then starts PostgreSQL and the four Temporal services under `root`,
 * connects whenflow (which registers its search attributes) and waits until starts are accepted.
 * Processes are registered with ./processes, so `stopAll` stops whatever was started, also after a failure.
 */
export async function standUpCluster(root: string, log: (line: string) => void): Promise<StoodUp> {
  const binaries = await provisionCluster(log);
  log(`cluster: temporal-server ${binaries.temporalServer}, temporal-sql-tool ${binaries.sqlTool}, schemas from ${binaries.serverSource}`);
  // The Temporal CLI (for `temporal workflow list`) is the one the rest of whenflow uses.
  if (!(await provisionTemporalBinary(log))) throw new Error('the Temporal CLI is missing and cannot be built (no Go toolchain)');
  const certs = makeTestCertificates(join(root, 'certs'));
  const postgres = await startPostgres({ bin: binaries.postgresBin, root: join(root, 'postgres'), port: await freePort(), log });
  const cluster = await startTemporalCluster({ binaries, postgres, certs, root: join(root, 'temporal'), log });
  const settings = settingsFromEnvironment(cluster.clientEnv);
  if (!settings) throw new Error('no connection settings from the cluster environment');
  // Connecting registers whenflow's search attributes in the SQL visibility store.
  const session = await connectToServer(settings);
  await startsAccepted(session);
  log(`cluster: search attributes WhenflowState, WhenflowName, WhenflowTags registered in namespace ${cluster.namespace}`);
  return { postgres, cluster, session };
}

/**
 * A new namespace and new search attributes reach every service's cache within seconds, not at once:
 * wait until a workflow start carrying whenflow's search attributes is accepted.
 */
async function startsAccepted(session: TemporalSession): Promise<void> {
  const queue = `probe-${randomBytes(4).toString('hex')}`;
  let last = '';
  await waitFor(
    "workflow starts with whenflow's search attributes to be accepted",
    120_000,
    async () => {
      try {
        const handle = await session.client.workflow.start('probe', {
          taskQueue: queue,
          workflowId: `${queue}-${Date.now()}`,
          typedSearchAttributes: [
            { key: TASK_STATE_KEY, value: 'running' },
            { key: TASK_NAME_KEY, value: 'probe' },
            { key: TASK_TAGS_KEY, value: ['probe'] },
          ],
        });
        await handle.terminate('probe');
        return true;
      } catch (error) {
        last = describeError(error);
        return false;
      }
    },
    1000,
  ).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}: ${last}`);
  });
}

/** Rows written and commits in Temporal's two databases, and WAL bytes, so far. */
export function databaseWrites(postgres: PostgresServer): { rows: number; commits: number; walBytes: number } {
  const line = postgres.query(
    "select sum(tup_inserted + tup_updated + tup_deleted) || ' ' || sum(xact_commit) || ' ' || pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') from pg_stat_database where datname in ('temporal', 'temporal_visibility')",
  );
  const [rows, commits, walBytes] = line.split(' ').map(Number);
  return { rows: rows ?? NaN, commits: commits ?? NaN, walBytes: walBytes ?? NaN };
}
