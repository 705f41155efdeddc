import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Connection, type TLSConfig } from '@temporalio/client';
import type { HistoryAndWorkflowId } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../../src/worker';
import { whenflow } from '../../support/cli';
import type { CheckContext } from '../support/context';

async function refused(what: string, attempt: () => Promise<unknown>): Promise<string> {
  try {
    await attempt();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error(`${what} was accepted; the frontend must refuse it`);
}

async function describeWith(address: string, tls: TLSConfig | false): Promise<void> {
  const connection = await Connection.connect({ address, tls, connectTimeout: 5000 });
  try {
    await connection.workflowService.getSystemInfo({});
  } finally {
    await connection.close();
  }
}

/**
 * Everything above reached the frontend over mutual TLS through the TEMPORAL_TLS_* variables. Here:
 * the frontend refuses plain connections and TLS without a client certificate, and the `whenflow`
 * command reports a missing CA clearly.
 */
export async function tlsCheck(context: CheckContext): Promise<void> {
  const { address, certs, clientEnv } = context.cluster;
  const ca = readFileSync(certs.caCert);
  await refused('a plain connection', () => describeWith(address, false));
  await refused('TLS without a client certificate', () =>
    describeWith(address, { serverRootCACertificate: ca, serverNameOverride: certs.serverName }),
  );
  await describeWith(address, {
    serverRootCACertificate: ca,
    serverNameOverride: certs.serverName,
    clientCertPair: { crt: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) },
  });

  // The command line over the documented variables, and without the private CA (the server is not trusted).
  const listed = await whenflow(['task', 'list', '--limit', '1', '--json'], clientEnv);
  assert.equal(listed.code, 0, `whenflow task list over mutual TLS: ${listed.stderr}`);
  const { TEMPORAL_TLS_SERVER_CA_CERT_PATH: _ca, ...withoutCa } = clientEnv;
  const untrusted = await whenflow(['task', 'list', '--limit', '1'], { ...withoutCa, TEMPORAL_TLS_SERVER_CA_CERT_PATH: undefined });
  assert.notEqual(untrusted.code, 0, 'without the CA the frontend certificate is not trusted');
  assert.match(untrusted.stderr, /cannot reach Temporal|certificate|tls|transport/i);
  const halfPair = await whenflow(['task', 'list'], { ...clientEnv, TEMPORAL_TLS_CLIENT_KEY_PATH: undefined });
  assert.notEqual(halfPair.code, 0);
  assert.match(halfPair.stderr, /TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together/);
  context.figure('TLS', 'workers, whenflow and temporal CLI over mutual TLS (test CA); plain and certificate-less connections refused');
}

/**
 * Every task history on the cluster (parents and subtasks) replays exactly with the current code. The
 * histories also show what the faults did: workflow tasks that timed out on a dead worker's sticky queue
 * and step executions that started again after a timeout.
 */
export async function replayCheck(context: CheckContext): Promise<number> {
  const seen = { workflowTaskTimeouts: 0, activityTimeouts: 0, laterAttempts: 0 };
  const source = context.client.workflow.list({ query: 'WorkflowType = "taskWorkflow"' }).intoHistories({ concurrency: 4 });
  async function* counted(): AsyncGenerator<HistoryAndWorkflowId> {
    for await (const item of source) {
      // The client lists histories as decoded protobuf objects.
      const history = item.history as temporal.api.history.v1.IHistory | undefined;
      for (const event of history?.events ?? []) {
        if (event.workflowTaskTimedOutEventAttributes) seen.workflowTaskTimeouts += 1;
        if (event.activityTaskTimedOutEventAttributes) seen.activityTimeouts += 1;
        if ((event.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) seen.laterAttempts += 1;
      }
      yield item;
    }
  }
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, counted())) {
    replayed += 1;
    if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
  }
  assert.deepEqual(failures, [], 'every history replays');
  assert.ok(replayed >= context.taskIds.length, `replayed ${replayed} histories, at least the ${context.taskIds.length} tasks started`);
  // The SIGKILL left work behind on the dead worker that other workers took over after a timeout.
  assert.ok(seen.workflowTaskTimeouts + seen.activityTimeouts > 0, 'the killed worker held work that timed out and ran elsewhere');
  context.figure('replay', `${replayed} task histories (parents and subtasks) replayed exactly`);
  context.figure(
    'work taken over after the kill',
    `${seen.workflowTaskTimeouts} workflow tasks timed out, ${seen.activityTimeouts} activity attempts timed out, ${seen.laterAttempts} activities completed on a later attempt`,
  );
  return replayed;
}
