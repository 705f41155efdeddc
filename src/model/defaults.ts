/**
 * The one table of built-in defaults: what a task, a step and a connector get when neither the caller,
 * the step file, the connector file nor whenflow.yaml sets it. docs/configuration.md#built-in-defaults
 * lists the same values for users. Plain constants: safe inside the Temporal workflow sandbox.
 */
import type { ConnectorPolicy, StepRetryPolicy } from './task';

/** The task queue of a worker, client or command given none. */
export const DEFAULT_TASK_QUEUE = 'whenflow';

// ---- task limits ------------------------------------------------------------------------------------

/**
 * 1.5 MiB. Temporal's default payload limit is 2 MB, and one payload carries more than the data: a
 * continue-as-new input holds the data plus the task's state and event window. Keeping the data well
 * below that limit leaves them room.
 */
export const DEFAULT_MAX_DATA_BYTES = 1_572_864;

/** Events one run keeps in memory and carries into the next run when it continues as new (`eventsKept`). */
export const EVENTS_KEPT = 2000;

/** Work units of one recognize phase (`maxRecognizeWork`): enough for hundreds of steps over large arrays and strings; a few seconds of work at most. */
export const RECOGNIZE_WORK_LIMIT = 3_000_000;

/** A task's limits and batch behaviour when neither the caller nor whenflow.yaml `defaults:` sets them. */
export const DEFAULT_TASK_LIMITS = {
  concurrency: 1,
  onConflict: 'rerun',
  maxStepRuns: 10_000,
  maxSubtasks: 100,
  historyLimit: 5_000,
  maxDataBytes: DEFAULT_MAX_DATA_BYTES,
  eventsKept: EVENTS_KEPT,
  maxRecognizeWork: RECOGNIZE_WORK_LIMIT,
} as const;

// ---- steps --------------------------------------------------------------------------------------------

/** A step's retry policy when neither its `options.retry` nor whenflow.yaml `defaults.retry` sets it. */
export const DEFAULT_STEP_RETRY: Readonly<StepRetryPolicy> = {
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maximumAttempts: 3,
  nonRetryableErrorTypes: [],
};

/** Longest one attempt of a step may run. */
export const DEFAULT_STEP_TIMEOUT_MS = 60_000;

/** Old-generation heap of the thread a step's content runs in, MiB (whenflow.yaml `defaults.maxHeapMb`). */
export const DEFAULT_MAX_HEAP_MB = 512;

// ---- connectors (deferred calls) ------------------------------------------------------------------------

/**
 * How a connector's deferred calls run when nothing sets its policy (the connector file's `retry`/`timeout`
 * and whenflow.yaml's `connectors.<name>.retry` resolve over it). A final error (FinalError) is never retried,
 * whatever the policy lists.
 */
export const DEFAULT_CONNECTOR_POLICY: Readonly<ConnectorPolicy> = {
  retry: { initialIntervalMs: 1000, backoffCoefficient: 2, maximumIntervalMs: 30_000, maximumAttempts: 5, nonRetryableErrorTypes: [] },
  timeoutMs: 60_000,
};
