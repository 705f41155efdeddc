import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { CircuitBoard } from '../connectors/circuit';
import { idempotencyKey } from '../connectors/idempotency';
import { chainGuards, circuitGuard, concurrencyGuard } from '../connectors/guard';
import { ConnectorLimits } from '../connectors/limits';
import type { ConnectorCallGuard } from '../connectors/types';
import { isJsonObject, type JsonObject, type JsonValue } from '../model/json';
import type { Catalog, DeferredCall, LoadedCatalog, StepOutcome, StepRanAhead } from '../model/task';
import { applyPatchTo } from '../model/patch';
import { RUN_AHEAD_WINDOW_MS, stepAhead, type RunAheadRequest } from '../cycle/run-ahead';
import { compileCatalog, type CompiledCatalog } from '../cycle/select';
import { callArgsPlace, callMask, DEFAULT_KEY_ID, unsealArgs } from '../runtime/stash';
import { SecretMask } from '../runtime/mask';
import { secretConfigValues, stashKeysOf } from '../workspace/config';
import { resultToJson } from '../runtime/to-json';
import { workspaceFingerprint } from '../steps/file-stamps';
import { DEFAULT_STEP_THREADS, StepThreadPool } from '../isolation/pool';
import type { ConnectorOutline } from '../isolation/protocol';
import { attemptVerdict } from '../isolation/verdict';
import { checkStepData, type StepDataRef } from '../cycle/step-data';
import { stepDataQuery } from '../workflows/api';
import { WorkspaceConfigError, openWorkspace, type Workspace } from '../workspace/workspace';

export interface RunStepInput {
  taskId: string;
  /** Identifies this execution of the step in this task; the same for every retry of it. */
  executionId: string;
  step: string;
  /** Step file relative to the workspace, as recorded in the catalog. */
  file: string;
  name: string;
  tags: string[];
  /** The task data, when it is small; otherwise `dataRef`, and the step reads the data from the task. */
  data?: JsonObject;
  dataRef?: StepDataRef;
  /** The task's `maxDataBytes`; absent in steps scheduled before the limit existed (the default applies). */
  maxDataBytes?: number;
  /** The step runs in a parallel batch: report the paths it reads. */
  trackReads?: boolean;
  /** The step's own timeout, when the activity's is longer (it may run ahead); else the activity's. */
  timeoutMs?: number;
  /** Run ahead after this step (src/cycle/run-ahead.ts); absent: this step only. */
  ahead?: RunAheadRequest;
}

export interface CallConnectorInput {
  taskId: string;
  step: string;
  executionId: string;
  call: DeferredCall;
}

/**
 * The activities of a worker bound to one workspace. They read files, run user code and call
 * connectors; they decide nothing about what runs next.
 */
export function createActivities(
  workspace: string,
  /**
   * The worker's circuit board and connector concurrency limits (kept across tasks and readings), and a
   * guard around every connector call that is sent (telemetry).
   */
  options: {
    circuits?: CircuitBoard;
    limits?: ConnectorLimits;
    connectorGuard?: ConnectorCallGuard;
    /** Most step threads (step executions running at once); the others wait for a thread. */
    stepThreads?: number;
  } = {},
) {
  const stepThreads = new StepThreadPool(options.stepThreads ?? DEFAULT_STEP_THREADS);
  const circuits = options.circuits ?? new CircuitBoard();
  const limits = options.limits ?? new ConnectorLimits();
  /**
   * The latest reading of the workspace, with the fingerprint (file stamps) its files had just before
   * it was read. It is reused while the fingerprint stays the same: every task start and every step
   * would otherwise read and hash every file of the workspace.
   */
  let reading: { fingerprint: string | null; at: number; opened: Promise<Workspace> } | null = null;
  /** A reading of the workspace as it is on disk; one younger than `reuseMs` is taken without looking at the files. */
  const readWorkspace = async (reuseMs: number): Promise<Workspace> => {
    if (reading && Date.now() - reading.at < reuseMs) return reading.opened;
    const fingerprint = await workspaceFingerprint(workspace);
    if (reading && fingerprint !== null && reading.fingerprint === fingerprint) {
      reading.at = Date.now();
      return reading.opened;
    }
    const current = { fingerprint, at: Date.now(), opened: openWorkspace(workspace) };
    reading = current;
    // A reading that failed (an I/O error, not bad content) is never reused.
    current.opened.catch(() => {
      if (reading === current) reading = null;
    });
    return current.opened;
  };
  /**
   * Configuration and connectors for step executions and connector calls. A reading is reused for a
   * moment without looking at the files; the step's own file is always checked (currentStep).
   * Problems in other step files do not concern a step.
   */
  const forExecution = async (): Promise<Workspace> => {
    const opened = await readWorkspace(WORKSPACE_REUSE_MS);
    const blocking = opened.problems.filter((p) => p.kind !== 'step' && p.kind !== 'library');
    if (blocking.length > 0) throw new WorkspaceConfigError(opened.dir, blocking);
    // Every connector call, in a step or deferred, goes through the worker's limits and circuits (as configured now).
    const breaker = circuitGuard(circuits, (name) => opened.config.connectors[name]?.circuit);
    const limiter = concurrencyGuard(limits, (name) => opened.config.connectors[name]?.maxConcurrent);
    // The limit is outermost: a call waiting for a slot has not been sent, so the circuit must not count
    // it yet (nor let it through as the half-open probe while it waits), and telemetry measures calls from
    // when they are sent. A call the open circuit rejects gives its slot back at once.
    const guard = chainGuards(limiter, ...(options.connectorGuard ? [options.connectorGuard] : []), breaker);
    return { ...opened, connectors: opened.connectors.guardedBy(guard) };
  };

  /**
   * Runs executions of one task's steps in step threads, and notes whether any of them called a connector.
   * An execution is stopped before its `timeoutMs` counted from `from`.
   */
  const stepRunner = (ws: Workspace, task: StepTask): StepRunner => {
    const context = Context.current();
    const stashKeys = stashKeysOf(ws.config);
    const shared = {
      workspace: ws.dir,
      taskId: task.taskId,
      name: task.name,
      tags: task.tags,
      config: ws.config.values,
      // Buffers arrive in the thread as plain bytes: the keys travel as a list with their ids.
      stashKeys: stashKeys === null ? null : Buffer.isBuffer(stashKeys) ? [{ id: DEFAULT_KEY_ID, key: stashKeys }] : [...stashKeys],
      secretTexts: [...SecretMask.of(secretConfigValues(ws.config)).secrets],
      ...(task.maxDataBytes !== undefined ? { maxDataBytes: task.maxDataBytes } : {}),
      trackReads: task.trackReads === true,
      blobs: ws.config.blobs,
      connectors: connectorOutlines(ws),
    };
    const runner: StepRunner = {
      calledConnector: false,
      execute: (run, from) =>
        stepThreads.run(
          { ...shared, step: run.step, file: run.file, executionId: run.executionId, attempt: run.attempt, data: run.data },
          {
            heapMb: ws.steps.get(run.step)?.declared.maxHeapMb ?? ws.config.defaults.maxHeapMb,
            timeoutMs: run.timeoutMs,
            stopAfterMs: stopBeforeTimeout(run.timeoutMs) - (performance.now() - from),
            signal: context.cancellationSignal,
            call: (request) => {
              runner.calledConnector = true;
              return ws.connectors.call(request.connector, request.method, request.args, {
                taskId: task.taskId,
                step: run.step,
                attempt: run.attempt,
                idempotencyKey: request.idempotencyKey,
                signal: context.cancellationSignal,
                options: ws.config.connectors[request.connector]?.options ?? {},
                maskSecrets: (text) => new SecretMask(request.secrets).text(text),
              });
            },
          },
        ),
    };
    return runner;
  };

  return {
    /**
     * The workspace's catalog as it is on disk now (reused while no file changed); the result is
     * recorded in the task's history, so replays see the same catalog. Given the task's start, it also
     * runs ahead from it: the first steps of a new task, as the cycle would choose them (src/cycle/run-ahead.ts).
     */
    async loadCatalog(start?: TaskStart): Promise<LoadedCatalog> {
      const started = performance.now();
      let catalog: Catalog;
      try {
        const ws = await readWorkspace(0);
        // A broken step file disables that step only; broken configuration, connectors or libraries concern every step.
        const blocking = ws.problems.filter((p) => p.kind !== 'step');
        if (blocking.length > 0) throw new WorkspaceConfigError(ws.dir, ws.problems);
        const broken = ws.problems.filter((p) => p.kind === 'step').map(({ kind: _kind, ...problem }) => problem);
        catalog = broken.length > 0 ? { ...ws.catalog, broken } : ws.catalog;
      } catch (error) {
        throw asFailure(error, 1);
      }
      if (!start) return catalog;
      // Running ahead is a head start, never a condition of the load: only a cancellation (a stop) ends the load.
      const ws = await forExecution();
      const runner = stepRunner(ws, start);
      const ahead = await whileHeartbeating(
        runAhead(
          ws,
          runner,
          start.taskId,
          { ...start.ahead, catalogVersion: catalog.version },
          { data: start.data, ran: [], cycle: 0 },
          started,
        ),
      );
      return ahead.length > 0 ? { ...catalog, ahead } : catalog;
    },

    /**
     * Runs one step's content in a step thread (src/isolation) and returns its patch and commands. This
     * thread keeps heartbeating, makes the step's connector calls, and stops the step thread when the
     * step overruns its timeout or heap limit, or is cancelled. Asked to, it then runs ahead.
     */
    async runStep(input: RunStepInput): Promise<StepOutcome> {
      const started = performance.now();
      const { attempt, startToCloseTimeoutMs } = Context.current().info;
      try {
        const ws = await forExecution();
        const runner = stepRunner(ws, input);
        const work = scheduledData(input).then(async (data) => {
          const timeoutMs = input.timeoutMs ?? startToCloseTimeoutMs;
          const first = await runner.execute({ ...input, data, attempt, timeoutMs }, started);
          const request = input.ahead;
          if (!request || first.commands.length > 0 || runner.calledConnector) return first;
          const after = { data: applyPatchTo(data, first.patch), ran: [...request.ran, input.step], cycle: request.cycle };
          const ahead = await runAhead(ws, runner, input.taskId, request, after, started);
          return ahead.length > 0 ? { ...first, ahead } : first;
        });
        return await whileHeartbeating(work);
      } catch (error) {
        const failure = asFailure(error, attempt);
        logFailedAttempt(input.taskId, `step ${input.step}`, attempt, failure);
        throw failure;
      }
    },

    /** Runs one deferred connector call (`args.into`) as its own activity, with its connector's retry policy. */
    async callConnector(input: CallConnectorInput): Promise<JsonValue> {
      const { attempt } = Context.current().info;
      const { connector, method, args, into } = input.call;
      // Until the call's secrets are known, a failure can only be masked with what is known.
      let mask = SecretMask.NONE;
      try {
        const ws = await forExecution();
        const keys = stashKeysOf(ws.config);
        const opened: JsonValue[] = [];
        const plainArgs = unsealArgs(args, keys, callArgsPlace(connector, method), opened);
        mask = callMask(input.call.secrets, opened, keys, connector, method).with(SecretMask.of(secretConfigValues(ws.config)));
        const callMasked = mask;
        const value = await whileHeartbeating(
          ws.connectors.call(connector, method, plainArgs, {
            taskId: input.taskId,
            step: input.step,
            attempt,
            idempotencyKey: idempotencyKey(input.executionId, connector, method, into),
            signal: Context.current().cancellationSignal,
            options: ws.config.connectors[connector]?.options ?? {},
            maskSecrets: (text) => callMasked.text(text),
          }),
        );
        // The result is written into the task data (and history): a secret the service echoes back is masked.
        return mask.json(resultToJson(value, { step: input.step }, `connectors.${connector}.${method}()`));
      } catch (error) {
        const failure = asFailure(mask.error(error), attempt);
        logFailedAttempt(input.taskId, `connectors.${connector}.${method} (into ${into}, from step ${input.step})`, attempt, failure);
        throw failure;
      }
    },
  };
}

export type TaskActivities = ReturnType<typeof createActivities>;

/** What every step execution of a task shares. */
interface StepTask {
  taskId: string;
  name: string;
  tags: string[];
  maxDataBytes?: number;
  trackReads?: boolean;
}

/** The start of a new task, to run ahead from while its catalog is loaded. */
export interface TaskStart extends StepTask {
  data: JsonObject;
  ahead: Pick<RunAheadRequest, 'maxSteps' | 'maxRecognizeWork'>;
}

/** One execution of one step, as it is handed to a step thread. */
interface StepExecution {
  step: string;
  file: string;
  executionId: string;
  attempt: number;
  data: JsonObject;
  timeoutMs: number;
}

interface StepRunner {
  execute(run: StepExecution, from: number): Promise<StepOutcome>;
  /** A step run by this runner called a connector from its content. */
  calledConnector: boolean;
}

/** Compiled once per reading of the workspace: running ahead matches conditions as the workflow does. */
const compiledCatalogs = new WeakMap<Catalog, CompiledCatalog>();

/**
 * Runs ahead (src/cycle/run-ahead.ts) from `from` (the data after cycle `from.cycle`, the steps that have run):
 * the steps the cycle would choose next, one by one, each on the data the step before left, while each gives no
 * command and calls no connector, the workspace reads as the task's catalog, and time remains. A step that fails
 * here is left for the workflow to run as its own activity (with its own retries); what ran before it stands.
 */
async function runAhead(
  ws: Workspace,
  runner: StepRunner,
  taskId: string,
  request: Pick<RunAheadRequest, 'catalogVersion' | 'maxSteps' | 'maxRecognizeWork'>,
  from: { data: JsonObject; ran: string[]; cycle: number },
  started: number,
): Promise<StepRanAhead[]> {
  if (ws.catalog.version !== request.catalogVersion) return [];
  const catalog = compiledCatalogs.get(ws.catalog) ?? compiledOrNull(ws.catalog);
  // Conditions the engine refuses: the workflow says so when it compiles them; nothing runs ahead.
  if (!catalog) return [];
  const ran = new Set(from.ran);
  const activityTimeoutMs = Context.current().info.startToCloseTimeoutMs;
  const ahead: StepRanAhead[] = [];
  let data = from.data;
  while (ahead.length < request.maxSteps) {
    const step = stepAhead(catalog, data, ran, request.maxRecognizeWork);
    const elapsed = performance.now() - started;
    if (!step || elapsed >= RUN_AHEAD_WINDOW_MS || elapsed + step.timeoutMs > activityTimeoutMs) break;
    const executionId = `${taskId}:${from.cycle + ahead.length + 1}:${step.name}`;
    let outcome: StepOutcome;
    try {
      const run = { step: step.name, file: step.file, executionId, attempt: 1, data, timeoutMs: step.timeoutMs };
      outcome = await runner.execute(run, performance.now());
    } catch (error) {
      if (Context.current().cancellationSignal.aborted) throw error;
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      process.stderr.write(
        `whenflow: task ${taskId} step ${step.name} failed running ahead; it runs again as its own activity: ${reason}\n`,
      );
      break;
    }
    ahead.push({ step: step.name, ...outcome });
    if (outcome.commands.length > 0 || runner.calledConnector) break;
    ran.add(step.name);
    data = applyPatchTo(data, outcome.patch);
  }
  return ahead;
}

function compiledOrNull(source: Catalog): CompiledCatalog | null {
  try {
    const compiled = compileCatalog(source);
    compiledCatalogs.set(source, compiled);
    return compiled;
  } catch {
    return null;
  }
}

const stepDataSchema = z.union([
  z.object({ data: z.custom<JsonObject>(isJsonObject, 'must be a JSON object') }),
  z.object({ dataRef: z.object({ chars: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{16}$/) }) }),
]);

/**
 * The data a step was scheduled with: inline in its input, or, when large, read from the task's
 * workflow (this run) through a query, which history does not record, and checked against its reference.
 */
async function scheduledData(input: RunStepInput): Promise<JsonObject> {
  const parsed = stepDataSchema.safeParse(input);
  if (!parsed.success)
    throw new Error(
      `step "${input.step}" of task ${input.taskId}: its input has neither valid \`data\` nor a valid \`dataRef\` (${parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')})`,
    );
  if ('data' in parsed.data) return parsed.data.data;
  const context = Context.current();
  // The workflow answers no query while its workflow task runs local activities: the query would wait for itself.
  if (context.info.isLocal)
    throw new Error(
      `step "${input.step}" of task ${input.taskId}: its data is held by reference, which a step run as a local activity cannot read`,
    );
  const execution = context.info.workflowExecution;
  if (!execution)
    throw new Error(`step "${input.step}": its data is held by its task's workflow, and this activity was not started by one`);
  const data = await context.client.workflow.getHandle(execution.workflowId, execution.runId).query(stepDataQuery, input.executionId);
  return checkStepData(data, parsed.data.dataRef, input.step);
}

const HEARTBEAT_EVERY_MS = 1000;
/** How long one reading of whenflow.yaml and connectors/ serves step executions. */
const WORKSPACE_REUSE_MS = 1000;

/**
 * Heartbeats carry cancellation (a timeout, a stop) to this worker, and let Temporal notice a worker
 * that died; work that ignores cancellation must not hold the activity slot, or a worker shutdown, hostage.
 */
async function whileHeartbeating<T>(work: Promise<T>): Promise<T> {
  const context = Context.current();
  // A local activity has no heartbeat timeout and nothing on the server to beat to: its cancellation
  // comes from its workflow task, and a dead worker shows as that workflow task's timeout.
  const beat = context.info.isLocal ? undefined : setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await untilCancelled(work, context.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}

function untilCancelled<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // The work goes on ending by itself (it sees the same signal); its rejection is no longer anyone's.
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('the step was cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** What the step thread needs to know of the worker's connectors to stand in for them. */
function connectorOutlines(ws: Workspace): ConnectorOutline[] {
  return ws.connectors.names().map((name) => {
    const connector = ws.connectors.get(name)!;
    return {
      name,
      methods: Object.keys(connector.methods),
      source: connector.source,
      ...(connector.callable !== undefined ? { callable: connector.callable } : {}),
    };
  });
}

/**
 * The step thread is stopped a moment before the step's timeout, so that the attempt's failure (which
 * names the timeout) reaches Temporal before Temporal's own timer ends the attempt without it.
 */
function stopBeforeTimeout(timeoutMs: number): number {
  return timeoutMs - Math.min(1000, Math.max(300, timeoutMs * 0.05), timeoutMs / 2);
}

/**
 * One line per failed attempt in the worker's log; the full stack stays in the failure (task error and
 * history). The SDK's own multi-line report of the same failure is left out unless the log level is DEBUG.
 */
function logFailedAttempt(taskId: string, what: string, attempt: number, failure: ApplicationFailure): void {
  const next = failure.nonRetryable ? 'not retried' : 'retried unless it was the last attempt';
  process.stderr.write(
    `whenflow: task ${taskId} ${what} attempt ${attempt} failed (${failure.type ?? 'Error'}, ${next}): ${failure.message.split('\n')[0]}\n`,
  );
}

/**
 * Keeps the original message, type (the error's name) and stack, and records the attempt for the task's
 * error record. A final error (decided by its class: docs/failures.md#errors) is not retried.
 */
function asFailure(error: unknown, attempt: number): ApplicationFailure {
  const original = error instanceof Error ? error : new Error(String(error));
  const verdict = attemptVerdict(original);
  const failure = ApplicationFailure.create({
    message: original.message,
    type: original.name,
    nonRetryable: verdict.nonRetryable,
    details: [{ attempt }],
    // An open circuit says when its probe goes through: retrying earlier would only fail fast again.
    ...(verdict.retryAt !== null ? { nextRetryDelay: Math.max(1, verdict.retryAt - Date.now()) } : {}),
  });
  // Step files are imported in a private namespace; its query string is noise in a stack trace.
  if (original.stack) failure.stack = original.stack.replace(/\?tsx-namespace=[\w-]+/g, '');
  return failure;
}
