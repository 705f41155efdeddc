/**
 * Test helpers for whenflow users (vitest or any runner): run one step without a server, run whole
 * tasks against a private dev server, and check scenario files.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { startTask, waitForTask } from '../client';
import { ConnectorRegistry, createConnectorsProxy } from '../connectors';
import type { JsonObject, JsonValue } from '../model/json';
import type { StepCommand, StepLog, TaskSnapshot } from '../model/task';
import { applyPatchTo, type DataPatch } from '../model/patch';
import { executeStep } from '../runtime/execute';
import { callArgsPlace, unsealArgs, unsealStash } from '../runtime/stash';
import { SecretMask } from '../runtime/mask';
import { loadStepFile, StepFileError } from '../steps/step-files';
import { loadLibraries } from '../steps/libraries';
import { defaultBlobSettings } from '../blobs/config';
import { installRuntime } from '../temporal/sdk-logging';
import { startDevServer } from '../temporal/server';
import { createTimeSkippingEnvironment } from '../temporal/time-skipping';
import { snapshotQuery } from '../workflows/api';
import { isTerminal } from '../model/task';
import type { NativeConnection } from '@temporalio/worker';
import { createTaskWorker } from '../worker';
import { secretConfigValues, stashKeysOf, workspaceTaskSettings } from '../workspace/config';
import { WorkspaceConfigError, openWorkspace, type Workspace } from '../workspace/workspace';
import { DEFAULT_SCENARIO_TIMEOUT_MS } from './run-scenarios';

export {
  evaluateScenario,
  formatScenarioReport,
  loadScenarios,
  type ExpectedSteps,
  type Scenario,
  type ScenarioFailure,
  type ScenarioProblem,
  type ScenarioResult,
} from './scenarios';
export { runScenarios, type RunScenariosOptions, type RunScenariosOutcome } from './run-scenarios';
export type { ScenarioUpdate } from './scenarios';

export interface RunStepOptions {
  /** What `task.id()` returns; default `test-task`. */
  taskId?: string;
  /** What `task.name()` returns; default `task`. */
  name?: string;
  tags?: string[];
  /** `task.config(KEY)` values; default the workspace's `config:` (none without a workspace). */
  config?: Record<string, JsonValue>;
  /** A workspace folder: its connectors (direct calls run), configuration and stash key are used. */
  workspace?: string;
}

export interface RunStepResult {
  /** The patch as the engine records it (`$stash` values sealed). */
  patch: DataPatch;
  /** The data after the patch, with `$stash` in plaintext. */
  data: JsonObject;
  /** Commands the step gave (deferred connector calls appear here as `call`), secrets in plaintext. */
  commands: StepCommand[];
  logs: StepLog[];
}

/**
 * Runs ONE step's content on `data`, without a server, as a worker would run it once. The step's
 * condition is not checked. Whatever the content throws is thrown as is; a step file that does not
 * load throws a StepFileError listing its problems. Without `workspace` only the built-in connectors
 * exist; with it, the workspace's connectors are called for real (except deferred `into` calls).
 */
export async function runStep(stepFile: string, data: JsonObject, options: RunStepOptions = {}): Promise<RunStepResult> {
  const file = resolve(stepFile);
  const ws = options.workspace === undefined ? null : await openCheckedWorkspace(options.workspace);
  const loaded = await loadStepFile(ws?.dir ?? dirname(file), file);
  if (!loaded.step) throw new StepFileError(loaded.problems);
  const step = loaded.step;
  const taskId = options.taskId ?? 'test-task';
  // Without a workspace key, a throwaway one: `$stash` in test data works, and nothing sealed leaves.
  const key = (ws ? stashKeysOf(ws.config) : null) ?? randomBytes(32);
  const registry = ws?.connectors ?? new ConnectorRegistry();
  // Libraries of the workspace, or of the folder holding the step's `steps/` folder.
  const libraryRoot = ws?.dir ?? (basename(dirname(file)) === 'steps' ? dirname(dirname(file)) : null);
  const { lib } = libraryRoot ? await loadLibraries(libraryRoot) : { lib: {} };
  const outcome = await executeStep({
    step: step.name,
    taskId,
    attempt: 1,
    name: options.name ?? 'task',
    tags: options.tags ?? [],
    config: options.config ?? ws?.config.values ?? {},
    data,
    content: step.content,
    lib,
    blobs: ws?.blobs ?? defaultBlobSettings(join(tmpdir(), 'whenflow-run-step')),
    stash: { key },
    ...(ws ? { secretTexts: SecretMask.of(secretConfigValues(ws.config)).secrets } : {}),
    connectors: (defer, _calls, maskSecrets) =>
      createConnectorsProxy(
        registry,
        (callIndex, connector) => ({
          taskId,
          step: step.name,
          attempt: 1,
          idempotencyKey: `${taskId}-${step.name}-${callIndex}`,
          signal: new AbortController().signal,
          options: ws?.config.connectors[connector]?.options ?? {},
          maskSecrets,
        }),
        defer,
      ),
  });
  const commands = outcome.commands.map((command): StepCommand => {
    if (command.type === 'call') {
      // What the step asked for, in plaintext: without the sealing (and the secrets it carries along) meant for history.
      const { secrets: _sealedSecrets, ...call } = command.call;
      return { ...command, call: { ...call, args: unsealArgs(call.args, key, callArgsPlace(call.connector, call.method)) as JsonObject } };
    }
    if (command.type === 'subtask') return { ...command, request: { ...command.request, data: unsealStash(command.request.data, key) } };
    return command;
  });
  return { patch: outcome.patch, data: unsealStash(applyPatchTo(data, outcome.patch), key), commands, logs: outcome.logs };
}

/** Temporal's time-skipping test server as a session like the dev server's. */
async function timeSkippingSession(): Promise<{
  client: Client;
  namespace: string;
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}> {
  const env = await createTimeSkippingEnvironment();
  return { client: env.client, namespace: env.namespace ?? 'default', nativeConnection: env.nativeConnection, close: () => env.teardown() };
}

/**
 * Waits on the time-skipping server until the task ends or settles: the workflow result is awaited (the
 * test client lets time jump meanwhile), raced against a poll for attention and error, which have no result.
 */
async function waitForEnd(client: Client, taskId: string, timeoutMs: number): Promise<void> {
  const handle = client.workflow.getHandle(taskId);
  let settled = false;
  const poll = (async () => {
    const until = Date.now() + timeoutMs;
    while (!settled && Date.now() < until) {
      const snapshot = await handle.query(snapshotQuery).catch(() => null);
      if (snapshot && (snapshot.settled ?? false) && !isTerminal(snapshot.state)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  await Promise.race([
    handle.result().then(
      () => undefined,
      () => undefined,
    ),
    poll,
  ]);
  settled = true;
}

async function openCheckedWorkspace(dir: string): Promise<Workspace> {
  const ws = await openWorkspace(dir);
  // As on a worker: no step of a workspace with problems runs.
  if (ws.problems.length > 0) throw new WorkspaceConfigError(ws.dir, ws.problems);
  return ws;
}

export interface TestEnvironment {
  client: Client;
  /** The private task queue of this environment's worker. */
  taskQueue: string;
  /** Starts a task with this data and waits until it settles (done, ignored, …, attention or error). */
  runTask(data: JsonObject, options?: { name?: string; timeoutMs?: number }): Promise<TaskSnapshot>;
  /** Stops the worker and the dev server; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * A Temporal dev server of its own and a worker on `workspace` (which must have no problems). Start it
 * in `beforeAll` and close it in `afterAll`.
 */
export async function createTestEnvironment(options: { workspace: string; timeSkipping?: boolean }): Promise<TestEnvironment> {
  const ws = await openCheckedWorkspace(options.workspace);
  try {
    installRuntime();
  } catch {
    // A Runtime already exists in this process: keep it.
  }
  const session = options.timeSkipping ? await timeSkippingSession() : await startDevServer();
  const taskQueue = `whenflow-test-${randomUUID()}`;
  let worker: Awaited<ReturnType<typeof createTaskWorker>>;
  try {
    worker = await createTaskWorker({ connection: session.nativeConnection, namespace: session.namespace, workspace: ws.dir, taskQueue });
  } catch (error) {
    await session.close();
    throw error;
  }
  let workerFailure: unknown;
  const running = worker.run().catch((error: unknown) => {
    workerFailure = error;
  });
  const stopped = running.then(() => {
    throw new Error(`the test worker stopped${workerFailure instanceof Error ? `: ${workerFailure.message}` : ''}`, {
      cause: workerFailure,
    });
  });
  stopped.catch(() => undefined); // only observed by runTask
  let closing: Promise<void> | undefined;
  return {
    client: session.client,
    taskQueue,
    async runTask(data, opts = {}) {
      const work = (async () => {
        const handle = await startTask(session.client, {
          name: opts.name ?? 'task',
          data,
          taskQueue,
          ...workspaceTaskSettings(ws.config),
        });
        // On the time-skipping server, waiting for the result lets time jump over parks and deadlines.
        if (options.timeSkipping) await waitForEnd(session.client, handle.workflowId, opts.timeoutMs ?? DEFAULT_SCENARIO_TIMEOUT_MS);
        return waitForTask(session.client, handle.workflowId, { timeoutMs: opts.timeoutMs ?? DEFAULT_SCENARIO_TIMEOUT_MS });
      })();
      // A crashed worker would otherwise leave the task waiting until the timeout.
      return Promise.race([work, stopped]);
    },
    close() {
      closing ??= (async () => {
        try {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
        } finally {
          await session.close();
        }
      })();
      return closing;
    },
  };
}
