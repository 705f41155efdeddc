import type { CompiledCondition } from '../conditions/types';
import type { JsonObject, JsonValue } from './json';
import type { DataPatch } from './patch';

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
}

export interface Catalog {
  /** Content hash of all step files; changes whenever any step file changes. */
  version: string;
  steps: CatalogStep[];
}

export interface TaskOptions {
  /** Most steps run at once in one cycle. */
  concurrency: number;
  /** Guard against runaway loops: most step executions in one task. */
  maxStepRuns: number;
}

export const DEFAULT_TASK_OPTIONS: TaskOptions = { concurrency: 10, maxStepRuns: 10_000 };

/** Commands step content gives; applied by the workflow after the cycle's merge. */
export type StepCommand =
  | { type: 'complete'; result: JsonValue }
  | { type: 'ignore' }
  | { type: 'redo' };

export interface StepLog {
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
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

export interface ConflictRecord {
  cycle: number;
  paths: string[];
  kept: string;
  dropped: string;
}

export interface TaskError {
  step: string;
  message: string;
  stack?: string;
  attempts: number;
  /** `step-failed`: the step threw (or timed out) after its retries; the others are the engine's own verdicts. */
  reason: 'step-failed' | 'max-step-runs' | 'catalog-invalid';
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
  trace: TraceEntry[];
  conflicts: ConflictRecord[];
  error: TaskError | null;
}

export interface TaskInput {
  name: string;
  tags?: string[];
  data: JsonObject;
  options?: Partial<TaskOptions>;
}
