import type { CompiledCondition } from '../conditions/types';
import type { JsonObject, JsonValue } from './json';
import type { DataPatch } from './patch';
import { DEFAULT_TASK_LIMITS } from './defaults';

export const TASK_STATES = ['running', 'waiting', 'attention', 'error', 'done', 'ignored', 'stopped', 'expired'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: readonly TaskState[] = ['done', 'ignored', 'stopped', 'expired'];
/** States in which a task needs something from outside before it runs again; `whenflow run` returns on these. */
export const SETTLED_STATES: readonly TaskState[] = [...TERMINAL_STATES, 'attention', 'error'];

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function isSettled(state: TaskState): boolean {
  return SETTLED_STATES.includes(state);
}

/** Retry policy of a step activity, as users write it in `options.retry` (durations in milliseconds). */
export interface StepRetryPolicy {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs?: number;
  maximumAttempts: number;
  nonRetryableErrorTypes: string[];
}

/** What the workflow knows about a step: everything except its code. Plain JSON, recorded in history. */
export interface CatalogStep {
  name: string;
  /** Path relative to the workspace, for messages. */
  file: string;
  condition: CompiledCondition;
  priority: number;
  timeoutMs: number;
  retry: StepRetryPolicy;
  /** May run as a local activity; absent in catalogs recorded before local steps (regular activities). */
  local?: boolean;
}

/** How the engine runs a connector's deferred calls (each one its own activity). */
export interface ConnectorPolicy {
  retry: StepRetryPolicy;
  timeoutMs: number;
}

export interface Catalog {
  /** Content hash of all step files; changes whenever any step file changes. */
  version: string;
  steps: CatalogStep[];
  /** Policies of connectors that differ from DEFAULT_CONNECTOR_POLICY, by connector name. */
  connectors: Record<string, ConnectorPolicy>;
  /** Step files that could not be loaded: disabled until fixed and reloaded; the other steps run. */
  broken?: { file: string; path?: string; message: string }[];
}

/** A catalog as a worker loads it for a new task, with the first steps it ran ahead from the task's start. */
export interface LoadedCatalog extends Catalog {
  ahead?: StepRanAhead[];
}

export interface TaskOptions {
  /**
   * Most steps run at once in one cycle. 1 (the default): every matching step runs one after another in
   * rank order. Above 1: a batch runs side by side on one snapshot, merged as if run in rank order.
   */
  concurrency: number;
  /** A parallel step that read or wrote what an earlier step of its batch wrote: run it again (default) or fail the task. */
  onConflict?: 'rerun' | 'error';
  /**
   * The version of the cycle's rules the task was started under. 2: lossless (batches merged as if run in
   * rank order, pending work finished before the task ends, subtask failures reach the parent). Absent in
   * tasks started before, whose recorded histories replay under the rules they were recorded with
   * (docs/semantics.md "Rules versions").
   */
  rules?: 2;
  /** Guard against runaway loops: most step executions in one task. */
  maxStepRuns: number;
  /** Fan-out bound: most subtasks of this task running at once (the rest wait their turn). */
  maxSubtasks: number;
  /** History events after which the task continues as new (sooner when Temporal suggests it). */
  historyLimit: number;
  /**
   * Events of the task's stream a run keeps in memory; a run that has recorded this many continues as
   * new, handing them on. Absent in tasks started before the stream existed (EVENTS_KEPT applies).
   */
  eventsKept?: number;
  /**
   * Most bytes the task data may take as JSON text (UTF-8). Absent in tasks started before the limit
   * existed (DEFAULT_MAX_DATA_BYTES applies).
   */
  maxDataBytes?: number;
  /**
   * Most units of work of one recognize phase (a unit per leaf test, one per 16 characters a RegExp
   * reads); past it the task is in error. Absent: RECOGNIZE_WORK_LIMIT.
   */
  maxRecognizeWork?: number;
}

/** The rules new tasks run under (TaskOptions.rules). */
export const CURRENT_RULES = 2 as const;

/** The options of a task started with nothing set (the limits come from the defaults table). */
export const DEFAULT_TASK_OPTIONS: TaskOptions = {
  concurrency: DEFAULT_TASK_LIMITS.concurrency,
  onConflict: DEFAULT_TASK_LIMITS.onConflict,
  rules: CURRENT_RULES,
  maxStepRuns: DEFAULT_TASK_LIMITS.maxStepRuns,
  maxSubtasks: DEFAULT_TASK_LIMITS.maxSubtasks,
  historyLimit: DEFAULT_TASK_LIMITS.historyLimit,
  maxDataBytes: DEFAULT_TASK_LIMITS.maxDataBytes,
};

/** A subtask a step asked for: a child task on the same engine and catalog. */
export interface SubtaskRequest {
  name: string;
  data: JsonObject;
  /** Dot path in the parent's data where `{ taskId, state, result }` is written when the child ends. */
  into: string | null;
  /** The parent starts no new cycle until this child ends. */
  waitFor: boolean;
}

/** A connector call deferred with `args.into`: it runs as its own activity after the step returns. */
export interface DeferredCall {
  connector: string;
  method: string;
  args: JsonObject;
  into: string;
  /** The deferring step's secrets, sealed (a JSON list of texts): the call masks them in its failure and result. */
  secrets?: string;
}

/** Commands step content gives; applied by the workflow after the cycle's merge. */
export type StepCommand =
  | { type: 'complete'; result: JsonValue }
  | { type: 'ignore' }
  | { type: 'redo' }
  | { type: 'park'; ms: number }
  | { type: 'name'; name: string }
  | { type: 'tags'; tags: string[] }
  | { type: 'timeout'; ms: number }
  | { type: 'completeOnExpire'; result: JsonValue }
  | { type: 'subtask'; request: SubtaskRequest }
  | { type: 'call'; call: DeferredCall };

export interface StepLog {
  level: 'log' | 'info' | 'warn' | 'error' | 'debug' | 'audit' | 'visual';
  message: string;
  /** For `visual` entries: what `task.visualize()` was given. */
  visual?: JsonObject;
}

/** What the step activity returns: never the whole data, only what changed. */
export interface StepOutcome {
  patch: DataPatch;
  commands: StepCommand[];
  logs: StepLog[];
  /** Lines dropped because the step logged more than the bound. */
  logsDropped: number;
  durationMs: number;
  /** Which attempt of the step activity produced this outcome (1 = first try). */
  attempt: number;
  /** JSON Pointers the content read, when it ran in a parallel batch (its reads are checked against the batch's writes). */
  reads?: string[];
  /**
   * Steps the activity ran after this one, in order, each on the data the one before left
   * (docs/how-a-task-runs.md, "Running ahead"); absent when it ran none.
   */
  ahead?: StepRanAhead[];
}

/** A step run ahead: its outcome, and which step it was. */
export interface StepRanAhead extends Omit<StepOutcome, 'ahead' | 'reads'> {
  step: string;
}

export interface TraceEntry {
  step: string;
  cycle: number;
  startedAt: string;
  durationMs: number;
  attempt: number;
  /** JSON Pointer paths this step's patch changed (after conflict resolution). */
  changed: string[];
  logs: StepLog[];
}

/**
 * Two writers met on the same data in one cycle. `dropped` did not get its way: a step of a parallel batch
 * whose changes were not merged (it runs again, or the task fails with `onConflict: error`), or a step whose
 * write an update from outside overwrote. `kept` is the earlier-ranked step (or `update`) that did.
 */
export interface ConflictRecord {
  cycle: number;
  paths: string[];
  kept: string;
  dropped: string;
  /**
   * `rerun`: the dropped step runs again if it still matches; `error`: the task failed (`onConflict: error`);
   * `overwritten`: an update from outside replaced what the step wrote. Absent in records of tasks started
   * before rules 2 (the dropped step's overlapping writes were discarded).
   */
  outcome?: 'rerun' | 'error' | 'overwritten';
}

/** The name a conflict record gives an update from outside. */
export const UPDATE_WRITER = 'update';

export interface TaskError {
  step: string;
  message: string;
  stack?: string;
  attempts: number;
  /** `step-failed`: the step threw (or timed out) after its retries; the others are the engine's own verdicts. */
  reason:
    | 'step-failed'
    | 'max-step-runs'
    | 'catalog-invalid'
    | 'connector-failed'
    | 'sequence-invalid'
    | 'subtask-failed'
    | 'conflict'
    | 'work-limit';
  /** With `subtask-failed`: the subtask the task waits for that is in error (or needs attention). */
  subtaskId?: string;
}

export interface TaskSnapshot {
  taskId: string;
  name: string;
  tags: string[];
  state: TaskState;
  data: JsonObject;
  result: JsonValue | null;
  cycle: number;
  stepRuns: number;
  catalogVersion: string;
  /** The most recent step executions (long tasks keep the last ones). */
  trace: TraceEntry[];
  /** How many older entries came before `trace[0]`. */
  traceOffset: number;
  conflicts: ConflictRecord[];
  error: TaskError | null;
  /**
   * Nothing more happens without outside help: the task has ended, or it is in `error` or `attention` with
   * no deadline pending. Absent in snapshots of tasks recorded before it existed.
   */
  settled?: boolean;
  /** When the task's deadline (`task.timeout`) passes, as workflow time in ms; null or absent: none. */
  deadlineAt?: number | null;
}

export interface TaskInput {
  name: string;
  tags?: string[];
  data: JsonObject;
  options?: Partial<TaskOptions>;
}
