/**
 * A step thread: runs the content of one step execution at a time, away from the worker's main thread.
 * Connector calls are sent to the main thread (where the worker's circuit breakers, limits and
 * telemetry are); everything else — the step file, libraries, blobs, the step API — lives here.
 */
import { deserialize } from 'node:v8';
import { transform } from 'esbuild';
import { parentPort } from 'node:worker_threads';
import { parseBlobSettings } from '../blobs/config';
import { createConnectorsProxy } from '../connectors/proxy';
import { ConnectorRegistry } from '../connectors/registry';
import type { Connector, ConnectorContext } from '../connectors/types';
import type { JsonObject } from '../model/json';
import { executeStep } from '../runtime/execute';
import { installStepGlobals } from '../runtime/globals';
import { loadLibraries } from '../steps/libraries';
import { currentStep } from '../steps/library';
import { idempotencyKey } from '../connectors/idempotency';
import { receivedError, sendError, type ConnectorOutline, type FromThread, type StepJob, type ToThread } from './protocol';
import { activeResources, realmChange, realmIntact, resourcesLeft, settleLazyGlobals, snapshotRealm } from './realm-guard';
import { attemptVerdict } from './verdict';

const port = parentPort;
if (!port) throw new Error('src/isolation/thread.ts runs as a worker thread of a whenflow worker');

const post = (message: FromThread) => port.postMessage(message);

/** Connector calls in flight, by id, waiting for the main thread's answer. */
const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
let nextCallId = 0;

/** The step's secrets at this moment (those it wrote to `$stash` included), for the main thread to mask a call's logs and spans with. */
let secretsNow: () => readonly string[] = () => [];

function callInMainThread(connector: string, method: string, args: Record<string, unknown>, context: ConnectorContext): Promise<unknown> {
  const id = nextCallId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    post({
      type: 'call',
      id,
      connector,
      method,
      args: args as JsonObject,
      idempotencyKey: context.idempotencyKey,
      secrets: [...secretsNow()],
    });
  });
}

/** Stand-ins for the worker's connectors: same names and methods, each call made by the main thread. */
function standInRegistry(outlines: ConnectorOutline[]): ConnectorRegistry {
  const connectors: Connector[] = outlines.map((outline) => ({
    name: outline.name,
    source: outline.source,
    ...(outline.callable !== undefined ? { callable: outline.callable } : {}),
    methods: Object.fromEntries(
      outline.methods.map((method) => [
        method,
        (args: Record<string, unknown>, context: ConnectorContext) => callInMainThread(outline.name, method, args, context),
      ]),
    ),
  }));
  return new ConnectorRegistry(connectors);
}

/** Aborted when the main thread cancels the running execution (`step.signal`); it then ends this thread. */
let cancellation = new AbortController();

async function run(job: StepJob) {
  cancellation = new AbortController();
  const { signal } = cancellation;
  const step = await currentStep(job.workspace, job.step, job.file);
  const { lib } = await loadLibraries(job.workspace);
  const registry = standInRegistry(job.connectors);
  return executeStep({
    step: job.step,
    taskId: job.taskId,
    attempt: job.attempt,
    name: job.name,
    tags: job.tags,
    config: job.config,
    data: job.data,
    content: step.content,
    lib,
    blobs: parseBlobSettings(job.blobs, job.workspace).settings,
    stash: { key: job.stashKeys?.map(({ id, key }) => ({ id, key: Buffer.from(key) })) ?? null },
    secretTexts: job.secretTexts,
    ...(job.maxDataBytes !== undefined ? { maxDataBytes: job.maxDataBytes } : {}),
    signal,
    trackReads: job.trackReads,
    connectors: (defer, calls, maskSecrets, secrets) => {
      secretsNow = secrets;
      return createConnectorsProxy(
        registry,
        (callIndex) => ({
          taskId: job.taskId,
          step: job.step,
          attempt: job.attempt,
          idempotencyKey: idempotencyKey(job.executionId, callIndex),
          signal,
          options: {},
          maskSecrets,
        }),
        defer,
        calls,
      );
    },
  });
}

installStepGlobals();
// esbuild (libraries, syntax errors) keeps a service process; start it now, so it is not taken for something a step left running.
await transform('');
settleLazyGlobals();
const realm = snapshotRealm();
let resources = activeResources();

/** Whether this thread may run another task's step: nothing of this execution may outlive it. */
async function leftBehind(): Promise<string | null> {
  // Let handles the execution closed go away before counting.
  await new Promise((resolve) => setImmediate(resolve));
  // The cheap comparison first; only a changed realm is walked again to name what changed.
  const changed = realmIntact(realm) ? null : realmChange(realm, snapshotRealm());
  if (changed) return `the step changed the thread's globals or built-ins (${changed})`;
  return resourcesLeft(resources, activeResources()) ?? null;
}

port.on('message', (message: ToThread) => {
  if (message.type === 'cancel') {
    cancellation.abort(new Error(message.reason));
    return;
  }
  if (message.type === 'settled') {
    const call = pending.get(message.id);
    if (!call) return;
    pending.delete(message.id);
    if (message.ok) call.resolve(deserialize(message.value));
    else {
      call.reject(receivedError(message.error));
    }
    return;
  }
  // The outcome goes first; the check of what the execution left behind follows, off the step's critical path.
  // The pool gives the thread to no other execution until it has the check's answer.
  void run(message.job)
    .then(
      (outcome) => post({ type: 'done', outcome }),
      (error: unknown) => post({ type: 'failed', error: sendError(error, attemptVerdict) }),
    )
    .then(async () => {
      const reason = await leftBehind();
      post({ type: 'checked', reusable: reason === null, ...(reason ? { retireReason: reason } : {}) });
      resources = activeResources();
    });
});

post({ type: 'ready' });
