import { WorkLimitError, withinWorkLimit } from '../conditions/work-meter';
import type { SequencePosition } from '../model/events';
import type { CatalogStep, DeferredCall, TaskError } from '../model/task';
import { selectSteps, type CompiledCatalog } from './select';
import type { Retry, TaskBook } from './task-book';

/**
 * What the task workflow does next. The workflow is an interpreter of moves: it asks `nextMove`, carries the
 * move out (waiting, loading, running activities), and asks again, until the move is `end`.
 */
export type Move =
  /** New data, connector results and ended subtasks are taken in at the cycle boundary. */
  | { kind: 'take-arrivals' }
  /** The task is terminal: the run returns its snapshot. */
  | { kind: 'end' }
  /** The history is long and nothing is in flight: a fresh run carries everything forward. */
  | { kind: 'continue-as-new' }
  /** `error` or `attention`: nothing runs until something comes from outside (a subtask tells its parent first). */
  | { kind: 'wait-for-help'; tellParent: boolean }
  /** `task.park()`: a durable timer, cut short by anything arriving (and, under rules 2, by a reload). */
  | { kind: 'wait-for-park'; remainingMs: number; endsOnReload: boolean }
  /** The task waits for what it started: subtasks it waits for, connector calls, or its work before its end. */
  | { kind: 'wait-for-arrivals'; reason: WaitReason }
  /** The step catalog is (re)loaded: at the start of a run, or when a reload was asked for. */
  | { kind: 'load-catalog' }
  /** A resume runs the connector call that failed for good once more. */
  | { kind: 'retry-call'; step: string; call: DeferredCall }
  /** The end the task reached takes effect: nothing it started is pending any more. */
  | { kind: 'finish' }
  /** Past the last step of an explicit sequence: done, or conditions take over. */
  | { kind: 'finish-sequence' }
  /** The listed step's condition does not match the data: it is skipped, and the skip recorded. */
  | { kind: 'skip-listed'; step: string; position: SequencePosition }
  /** Nothing matches and nothing is pending: the task needs attention. */
  | { kind: 'attention' }
  /** Act: run the chosen steps on one snapshot of the data, merge their patches, apply their commands. */
  | { kind: 'act'; steps: CatalogStep[]; position?: SequencePosition }
  /** The task cannot go on: an invalid sequence, or a recognize phase past its work limit. */
  | { kind: 'fail'; error: TaskError };

export type WaitReason = 'subtasks' | 'sequence-calls' | 'pending-before-end' | 'outstanding-work';

/** What the decision needs besides the task's own state: the run's catalog, timers and outstanding work. */
export interface RunView {
  /** The compiled catalog the run uses; undefined until loaded (or after a failed load). */
  catalog: CompiledCatalog | undefined;
  /** A catalog was loaded into the run (even one whose conditions could not be compiled). */
  catalogLoaded: boolean;
  /** The previous move loaded the catalog: the run goes on with it at once, as runs always have. */
  catalogJustLoaded: boolean;
  /** Workflow time a park ends at, or null. */
  parkedUntil: number | null;
  /** Workflow time now. */
  now: number;
  /** The parent was told of this spell of `error`/`attention` already. */
  parentTold: boolean;
  arrivals: number;
  work: { calls: number; subtasks: number; blockingSubtasks: number; pendingBeforeEnd: number };
  /** What a resume asked to run again (taken by every move from the catalog check on). */
  retry: Retry | null;
  reloadRequested: boolean;
  /** Whether the history is long enough for a fresh run (asked only once a catalog is loaded). */
  runIsLong(): boolean;
}

/**
 * The recognize–act cycle as a decision: from the task's state and the run's view, the one thing to do next.
 * Pure: it changes nothing (conditions are matched within the recognize work limit) and is tested without Temporal.
 */
export function nextMove(task: TaskBook, run: RunView): Move {
  const catalog = run.catalog;
  // A freshly loaded catalog is used at once, without looking at the cycle boundary again.
  if (!(run.catalogJustLoaded && catalog)) {
    const boundary = atCycleBoundary(task, run);
    if (boundary) return boundary;
  }
  if (task.terminal) return { kind: 'end' };
  if (!catalog) return { kind: 'load-catalog' };
  return withCatalog(task, run, catalog);
}

/** The moves a retry is taken by: everything decided once the catalog is at hand. */
export function takesRetry(move: Move): boolean {
  switch (move.kind) {
    case 'take-arrivals':
    case 'end':
    case 'continue-as-new':
    case 'wait-for-help':
    case 'wait-for-park':
    case 'load-catalog':
      return false;
    case 'wait-for-arrivals':
      return move.reason !== 'subtasks';
    default:
      return true;
  }
}

/** Whether the parent was told of the task's need for help, after carrying out `move`. */
export function parentToldAfter(move: Move, parentTold: boolean): boolean {
  if (move.kind === 'wait-for-help') return true;
  return move.kind === 'take-arrivals' || move.kind === 'end' || move.kind === 'continue-as-new' ? parentTold : false;
}

function atCycleBoundary(task: TaskBook, run: RunView): Move | null {
  if (run.arrivals > 0) return { kind: 'take-arrivals' };
  if (task.terminal) return { kind: 'end' };
  const { work } = run;
  // runIsLong is asked first, as recorded runs did (it may record a patch marker the first time).
  if (run.catalogLoaded && run.runIsLong() && work.calls + work.subtasks === 0 && run.retry === null && !run.reloadRequested)
    return { kind: 'continue-as-new' };
  if (task.needsOutsideHelp) return { kind: 'wait-for-help', tellParent: !run.parentTold && task.lossless };
  if (run.parkedUntil !== null) return { kind: 'wait-for-park', remainingMs: run.parkedUntil - run.now, endsOnReload: task.lossless };
  if (work.blockingSubtasks > 0) return { kind: 'wait-for-arrivals', reason: 'subtasks' };
  if (run.reloadRequested) return { kind: 'load-catalog' };
  return null;
}

function withCatalog(task: TaskBook, run: RunView, catalog: CompiledCatalog): Move {
  const { retry, work } = run;
  if (retry?.kind === 'call') return { kind: 'retry-call', step: retry.step, call: retry.call };
  if (task.finishing)
    return work.calls + work.pendingBeforeEnd > 0 ? { kind: 'wait-for-arrivals', reason: 'pending-before-end' } : { kind: 'finish' };
  if (task.sequence) {
    // An explicit sequence runs its steps one after another: each waits for the calls of the one before.
    if (work.calls > 0) return { kind: 'wait-for-arrivals', reason: 'sequence-calls' };
    const unknown = stepsMissingFrom(catalog, task.sequence.steps);
    if (unknown.length > 0) {
      return {
        kind: 'fail',
        error: {
          step: unknown[0]!,
          message: `the sequence names steps the workspace does not have: ${unknown.join(', ')}`,
          attempts: 0,
          reason: 'sequence-invalid',
        },
      };
    }
    const listed = task.sequenceStep;
    if (!listed) return { kind: 'finish-sequence' };
    const entry = catalog.steps.find((candidate) => candidate.step.name === listed.name)!;
    // A listed step runs when its condition matches the data; otherwise it is skipped.
    const matches = recognizeWithinLimit(task, () => entry.matches(task.data));
    if (matches instanceof WorkLimitError) return workLimitMove(matches);
    return matches ? actOn(task, [entry.step], listed.position) : { kind: 'skip-listed', step: listed.name, position: listed.position };
  }
  const chosen = recognizeWithinLimit(task, () => recognize(task, catalog, retry?.kind === 'step' ? retry.step : null));
  if (chosen instanceof WorkLimitError) return workLimitMove(chosen);
  if (chosen.length > 0) return actOn(task, chosen);
  return work.calls + work.subtasks > 0 ? { kind: 'wait-for-arrivals', reason: 'outstanding-work' } : { kind: 'attention' };
}

/** The chosen steps act, unless that would pass the runaway-loop guard (`maxStepRuns`). */
function actOn(task: TaskBook, steps: CatalogStep[], position?: SequencePosition): Move {
  if (!task.exceedsStepBudget(steps.length)) return { kind: 'act', steps, ...(position ? { position } : {}) };
  const message = `more than ${task.options.maxStepRuns} step executions in one task (maxStepRuns); a step may be redoing itself forever`;
  return { kind: 'fail', error: { step: steps[0]!.name, message, attempts: 0, reason: 'max-step-runs' } };
}

/** Every listed step must exist before any of them runs; a reload after adding the files lets the task go on. */
function stepsMissingFrom(catalog: CompiledCatalog, steps: string[]): string[] {
  const known = new Set(catalog.steps.map((entry) => entry.step.name));
  return [...new Set(steps.filter((name) => !known.has(name)))];
}

/** Recognize: the steps that act in this cycle (or the one step a resume asked to run again). */
function recognize(task: TaskBook, catalog: CompiledCatalog, forced: string | null): CatalogStep[] {
  if (forced) return catalog.steps.filter((entry) => entry.step.name === forced).map((entry) => entry.step);
  return selectSteps(catalog, task.data, task.isEligible, task.options.concurrency).run;
}

/**
 * One recognize phase runs within the work limit, so that no data makes a workflow task run past its timeout
 * (and fail again on every retry); past it the answer is the limit's error.
 */
function recognizeWithinLimit<T>(task: TaskBook, select: () => T): T | WorkLimitError {
  return withinWorkLimit(task.recognizeWorkLimit, select);
}

function workLimitMove(error: WorkLimitError): Move {
  return { kind: 'fail', error: { step: '', message: error.message, attempts: 0, reason: 'work-limit' } };
}
