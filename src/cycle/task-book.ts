import type { JsonObject, JsonValue } from '../model/json';
import {
  isTerminal,
  type ConflictRecord,
  type DeferredCall,
  type StepCommand,
  type SubtaskRequest,
  type TaskError,
  type TaskOptions,
  type TaskSnapshot,
  type TaskState,
  type TraceEntry,
  UPDATE_WRITER,
} from '../model/task';
import type { SequencePosition, TaskEventBody } from '../model/events';
import { EventLog, type CarriedEvents } from './event-log';
import { mergePatchPointers, pointersOverlap, type BatchMerge, type MergeResult } from './merge';
import { applyMergePatch } from '../model/patch';
import { setAtPath } from './paths';
import { RECOGNIZE_WORK_LIMIT } from '../model/defaults';
import { RUN_AHEAD_MAX_STEPS } from './run-ahead';

/** Cycles whose writes an update is checked against: one more than the longest run ahead. */
const RECENT_WRITES_KEPT = RUN_AHEAD_MAX_STEPS + 1;

/** What a cycle asks of the workflow beyond changing the task's own state: timers, children, activities. */
export interface CycleEffects {
  /** Longest `task.park()` of the cycle, in ms. */
  park: number | null;
  /** Latest `task.timeout()` of the cycle, in ms from now. */
  timeout: number | null;
  subtasks: { step: string; request: SubtaskRequest }[];
  calls: { step: string; call: DeferredCall }[];
  /** Steps that asked to run again (`step.redo()`). */
  redone: string[];
}

/** What a resume runs again. */
export type Retry =
  | { kind: 'step'; step: string }
  | { kind: 'call'; step: string; call: DeferredCall }
  | { kind: 'subtask'; taskId: string };

/** `task.complete()` / `task.ignore()` (or data become `{}`) while work the task started is still pending. */
export interface Finishing {
  state: 'done' | 'ignored';
  result: JsonValue | null;
}

/** Something that arrives between cycles: new data from outside, a connector result, a subtask's end. */
export type Arrival =
  /** `during`: the cycle whose steps were running when the update arrived (rules 2), else null. */
  | { kind: 'update'; patch: JsonObject; during?: number | null }
  /** A subtask the task waits for is in `error` or `attention` (rules 2). */
  | { kind: 'subtask-needs-help'; taskId: string; state: TaskState; error: TaskError | null }
  | { kind: 'call-result'; step: string; call: DeferredCall; value: JsonValue }
  | { kind: 'call-failed'; step: string; call: DeferredCall; message: string; attempts: number }
  | { kind: 'subtask-ended'; into: string | null; outcome: { taskId: string; state: TaskState; result: JsonValue | null } };

export interface StepRun {
  step: string;
  startedAt: string;
  attempt: number;
  durationMs: number;
  logs: TraceEntry['logs'];
  commands: StepCommand[];
  /** Set when the step ran as part of an explicit sequence. */
  position?: SequencePosition;
}

/** Trace entries a task keeps in memory (and carries into its next run); older ones are counted, not kept. */
export const TRACE_KEPT = 1000;

/** Everything a task carries into its next run when it continues as new. */
export interface CarriedTask {
  state: TaskState;
  data: JsonObject;
  result: JsonValue | null;
  error: TaskError | null;
  cycle: number;
  stepRuns: number;
  budgetStart: number;
  ran: string[];
  trace: TraceEntry[];
  traceOffset: number;
  conflicts: ConflictRecord[];
  catalogVersion: string;
  expireResult: JsonValue | null;
  hasExpireResult: boolean;
  /** Absent in runs recorded before the event stream existed. */
  events?: CarriedEvents;
  sequence?: SequenceCursor | null;
  /** Rules 2: an end the task reached while work it started was pending (still pending after an error). */
  finishing?: Finishing | null;
}

/** A task started with an explicit list of steps: which one runs next, and what follows the list. */
export interface SequenceCursor {
  steps: string[];
  /** Index into `steps` of the step to run next. */
  next: number;
  /** When the list is done: the condition cycle takes over (true) or the task is done (false). */
  thenCycle: boolean;
}

/**
 * Everything a task remembers between cycles, and the rules for changing it. Pure and deterministic
 * (it runs inside the workflow); the workflow only decides when to call it. "Rules 2" marks what tasks
 * started under rules 2 do (docs/semantics.md "Rules versions").
 */
export class TaskBook {
  private current: TaskState = 'running';
  /** The task's event stream (state changes, steps, arrivals), readable from a cursor. */
  events: EventLog;
  sequence: SequenceCursor | null = null;
  data: JsonObject;
  result: JsonValue | null = null;
  error: TaskError | null = null;
  cycle = 0;
  stepRuns = 0;
  catalogVersion = '';
  /** The most recent step executions; `traceOffset` counts the older ones no longer kept. */
  trace: TraceEntry[] = [];
  traceOffset = 0;
  conflicts: ConflictRecord[] = [];
  /** Steps that have run and not asked to run again (eligible until it has run). */
  private readonly ran = new Set<string>();
  /** Rules 2: the task reached its end; it takes effect once the work it started is no longer pending. */
  finishing: Finishing | null = null;
  /**
   * The first cycle whose steps are running now, if any: the acting cycle, or the first of the cycles whose
   * steps may be run ahead (updates arriving meanwhile are checked against the writes of those cycles).
   */
  actingCycle: number | null = null;
  /** What each step of the latest cycles wrote (JSON Pointers), for updates that raced them. */
  private recentWrites: { cycle: number; writes: { step: string; changed: string[] }[] }[] = [];

  constructor(
    readonly taskId: string,
    public name: string,
    public tags: string[],
    data: JsonObject,
    readonly options: TaskOptions,
  ) {
    this.data = data;
    this.events = new EventLog(options.eventsKept);
  }

  isEligible = (step: string): boolean => !this.ran.has(step);

  /** The steps not eligible now: they have run and not asked to run again. */
  get ranSteps(): string[] {
    return [...this.ran].sort();
  }

  /** Tasks started under rules 2 (TaskOptions.rules); older histories replay under the rules they were recorded with. */
  get lossless(): boolean {
    return this.options.rules === 2;
  }

  get state(): TaskState {
    return this.current;
  }

  /** Every change of state is an event. */
  private moveTo(next: TaskState): void {
    if (next === this.current) return;
    const from = this.current;
    this.current = next;
    this.record({ type: 'state-changed', from, to: next });
  }

  /** Waiting for what the task started (subtasks, calls, a park). */
  startWaiting(): void {
    this.moveTo('waiting');
  }

  /** Something arrived or the wait ended: a task still waiting runs again. */
  stopWaiting(): void {
    if (this.current === 'waiting') this.moveTo('running');
  }

  /** No step matches and nothing is pending: only new data, a reload or a resume makes the task run again. */
  needAttention(): void {
    this.moveTo('attention');
  }

  /** Stopped from outside; false when the task had already ended. */
  stop(): boolean {
    if (this.terminal) return false;
    this.moveTo('stopped');
    return true;
  }

  record(event: TaskEventBody): void {
    this.events.append(event);
  }

  /** The listed step that runs next, with its position, or null when the task follows its conditions. */
  get sequenceStep(): { name: string; position: SequencePosition } | null {
    const sequence = this.sequence;
    if (!sequence || sequence.next >= sequence.steps.length) return null;
    return { name: sequence.steps[sequence.next]!, position: { index: sequence.next + 1, of: sequence.steps.length } };
  }

  /** The listed step is done with (ran or skipped). */
  advanceSequence(): void {
    if (this.sequence) this.sequence.next += 1;
  }

  /** Past the last listed step the task is done, or goes on with its conditions. */
  finishSequence(): void {
    const sequence = this.sequence;
    this.sequence = null;
    if (!sequence || sequence.thenCycle || this.terminal) return;
    if (this.lossless) this.finishing ??= { state: 'done', result: null };
    else this.moveTo('done');
  }

  /** The state a continued-as-new run starts from. */
  carry(): CarriedTask {
    const dropped = Math.max(0, this.trace.length - TRACE_KEPT);
    return {
      state: this.state,
      data: this.data,
      result: this.result,
      error: this.error,
      cycle: this.cycle,
      stepRuns: this.stepRuns,
      budgetStart: this.budgetStart,
      ran: this.ranSteps,
      trace: this.trace.slice(dropped),
      traceOffset: this.traceOffset + dropped,
      conflicts: this.conflicts.slice(-TRACE_KEPT),
      catalogVersion: this.catalogVersion,
      expireResult: this.expireResult ?? null,
      hasExpireResult: this.expireResult !== undefined,
      events: this.events.carry(),
      sequence: this.sequence,
      ...(this.lossless ? { finishing: this.finishing } : {}),
    };
  }

  static resume(taskId: string, name: string, tags: string[], options: TaskOptions, carried: CarriedTask): TaskBook {
    const book = new TaskBook(taskId, name, tags, carried.data, options);
    if (carried.events) book.events = EventLog.resume(carried.events, options.eventsKept);
    book.current = carried.state;
    book.sequence = carried.sequence ?? null;
    book.result = carried.result;
    book.error = carried.error;
    book.cycle = carried.cycle;
    book.stepRuns = carried.stepRuns;
    book.budgetStart = carried.budgetStart;
    for (const step of carried.ran) book.ran.add(step);
    book.trace = carried.trace;
    book.traceOffset = carried.traceOffset;
    book.conflicts = carried.conflicts;
    book.catalogVersion = carried.catalogVersion;
    if (carried.hasExpireResult) book.expireResult = carried.expireResult;
    book.finishing = carried.finishing ?? null;
    return book;
  }

  get terminal(): boolean {
    return isTerminal(this.state);
  }

  /** `error` and `attention`: alive, but nothing runs until something comes from outside. */
  get needsOutsideHelp(): boolean {
    return this.state === 'error' || this.state === 'attention';
  }

  /** Steps of the cycles from the next one on may run ahead while the catalog loads (null: that is over). */
  loadingAhead(running: boolean): void {
    this.actingCycle = running ? this.cycle + 1 : null;
  }

  /** Act, first half: the chosen steps are about to run on one snapshot of the data. */
  beginCycle(steps: string[], position?: SequencePosition): number {
    this.moveTo('running');
    const cycle = this.cycle + 1;
    this.actingCycle = cycle;
    this.record({ type: 'cycle-began', cycle, steps });
    for (const step of steps) this.record({ type: 'step-started', cycle, step, ...(position ? { position } : {}) });
    return cycle;
  }

  /** A step of the cycle failed for good; the task goes to `error` once the cycle is recorded. */
  stepFailed(cycle: number, error: TaskError, position?: SequencePosition): void {
    this.record({
      type: 'step-failed',
      cycle,
      step: error.step,
      message: error.message,
      attempts: error.attempts,
      ...(position ? { position } : {}),
    });
  }

  /**
   * Act, second half: the merged data becomes the task's data, each run is traced, and the commands
   * take effect in rank order (the first `complete`/`ignore` wins).
   */
  recordCycle(runs: StepRun[], merged: MergeResult): CycleEffects {
    const effects: CycleEffects = { park: null, timeout: null, subtasks: [], calls: [], redone: [] };
    this.cycle += 1;
    this.actingCycle = null;
    this.data = merged.data;
    for (const conflict of merged.conflicts) {
      this.conflicts.push({ cycle: this.cycle, ...conflict });
      this.record({ type: 'conflict', cycle: this.cycle, ...conflict });
    }
    for (const run of runs) {
      this.stepRuns += 1;
      this.ran.add(run.step);
      this.traceRun(run, merged.applied.find((a) => a.step === run.step)?.changed ?? []);
    }
    for (const run of runs) {
      for (const command of run.commands) this.apply(run.step, command, effects);
    }
    if (!this.terminal && Object.keys(this.data).length === 0) this.moveTo('done');
    return effects;
  }

  /**
   * Act, second half, under rules 2: the merged steps' changes become the task's data and their commands
   * take effect in rank order; held steps (their reads or writes met an earlier step's writes) keep nothing
   * and are recorded as conflicts: they run again if they still match, or fail the task (`onConflict: error`).
   */
  recordBatch(runs: StepRun[], batch: BatchMerge): CycleEffects {
    const effects: CycleEffects = { park: null, timeout: null, subtasks: [], calls: [], redone: [] };
    this.cycle += 1;
    this.actingCycle = null;
    this.data = batch.data;
    // Enough cycles for the longest run ahead, the cycles an update can arrive during.
    this.recentWrites = [...this.recentWrites.slice(-RECENT_WRITES_KEPT + 1), { cycle: this.cycle, writes: batch.merged }];
    const failOnConflict = this.options.onConflict === 'error';
    for (const held of batch.held) {
      const conflict: ConflictRecord = {
        cycle: this.cycle,
        paths: held.paths,
        kept: held.blockedBy,
        dropped: held.step,
        outcome: failOnConflict ? 'error' : 'rerun',
      };
      this.conflicts.push(conflict);
      this.record({ type: 'conflict', ...conflict });
    }
    const mergedSteps = new Set(batch.merged.map((m) => m.step));
    for (const run of runs) {
      if (!mergedSteps.has(run.step)) continue;
      this.stepRuns += 1;
      this.ran.add(run.step);
      const changed = batch.merged.find((m) => m.step === run.step)?.changed ?? [];
      this.traceRun(run, changed);
    }
    // A held step ran (its side effects happened) but counts against the runaway guard only once it is merged.
    for (const run of runs) {
      if (mergedSteps.has(run.step)) for (const command of run.commands) this.apply(run.step, command, effects);
    }
    const firstHeld = batch.held[0];
    if (firstHeld && failOnConflict && !this.terminal) {
      this.fail({
        step: firstHeld.step,
        message: `step "${firstHeld.step}" ran beside "${firstHeld.blockedBy}", which wrote what it read or wrote (${firstHeld.paths.join(', ')}); its changes were not kept (onConflict: error)`,
        attempts: 1,
        reason: 'conflict',
      });
    }
    if (!this.terminal && !this.finishing && Object.keys(this.data).length === 0) this.finishing = { state: 'done', result: null };
    return effects;
  }

  private traceRun(run: StepRun, changed: string[]): void {
    this.trace.push({
      step: run.step,
      cycle: this.cycle,
      startedAt: run.startedAt,
      durationMs: run.durationMs,
      attempt: run.attempt,
      changed,
      logs: run.logs,
    });
    const position = run.position ? { position: run.position } : {};
    this.record({
      type: 'step-finished',
      cycle: this.cycle,
      step: run.step,
      durationMs: run.durationMs,
      attempt: run.attempt,
      changed,
      ...position,
    });
    if (this.trace.length > 2 * TRACE_KEPT) {
      // Bounded memory (and query size) for long tasks: keep the most recent entries.
      const dropped = this.trace.length - TRACE_KEPT;
      this.trace.splice(0, dropped);
      this.traceOffset += dropped;
    }
  }

  /** Rules 2: the end the task reached takes effect (nothing it started is pending any more). */
  finish(): void {
    const finishing = this.finishing;
    this.finishing = null;
    if (!finishing || this.terminal) return;
    this.moveTo(finishing.state);
    if (finishing.state === 'done') this.result = finishing.result;
  }

  private apply(step: string, command: StepCommand, effects: CycleEffects): void {
    switch (command.type) {
      case 'park':
        effects.park = Math.max(effects.park ?? 0, command.ms);
        return;
      case 'timeout':
        effects.timeout = command.ms;
        return;
      case 'completeOnExpire':
        this.expireResult = command.result;
        return;
      case 'name':
        this.name = command.name;
        return;
      case 'tags':
        this.tags = [...command.tags];
        return;
      case 'subtask':
        effects.subtasks.push({ step, request: command.request });
        return;
      case 'call':
        effects.calls.push({ step, call: command.call });
        return;
      case 'redo':
        this.ran.delete(step);
        effects.redone.push(step);
        return;
      case 'complete':
        if (this.terminal || this.finishing) return;
        if (this.lossless) {
          this.finishing = { state: 'done', result: command.result };
          return;
        }
        this.moveTo('done');
        this.result = command.result;
        return;
      case 'ignore':
        if (this.terminal || this.finishing) return;
        if (this.lossless) {
          this.finishing = { state: 'ignored', result: null };
          return;
        }
        this.moveTo('ignored');
        return;
    }
  }

  /** Result to finish with when the task's deadline passes (`task.completeOnExpire`); undefined: `expired`. */
  expireResult: JsonValue | undefined = undefined;

  /** The deadline passed: `done` with the completeOnExpire result, else `expired`. */
  expire(): void {
    if (this.terminal) return;
    if (this.expireResult === undefined) {
      this.moveTo('expired');
    } else {
      this.moveTo('done');
      this.result = this.expireResult;
    }
  }

  /**
   * Takes in what arrived between cycles. New data revives a task in `attention` or `error`
   * (docs/semantics.md "Tasks and states": new data makes them run again); a connector call that failed for good is an error.
   */
  receive(arrival: Arrival): void {
    if (this.terminal) return;
    switch (arrival.kind) {
      case 'update':
        this.record({ type: 'data-updated', keys: Object.keys(arrival.patch).sort() });
        if (arrival.during != null) this.recordOverwrites(arrival.patch, arrival.during);
        this.data = applyMergePatch(this.data, arrival.patch) as JsonObject;
        if (this.needsOutsideHelp) this.revive();
        break;
      case 'subtask-needs-help': {
        const { taskId, state, error } = arrival;
        this.record({ type: 'subtask-needs-help', taskId, state });
        const cause = error ? `step "${error.step}" failed: ${error.message}` : 'no step matches its data';
        this.fail({
          step: error?.step ?? '',
          message: `subtask ${taskId}, which this task waits for, is in ${state}: ${cause}`,
          attempts: error?.attempts ?? 0,
          reason: 'subtask-failed',
          subtaskId: taskId,
        });
        return;
      }
      case 'call-result':
        this.record({ type: 'call-answered', step: arrival.step, ...callOf(arrival.call) });
        this.data = setAtPath(this.data, arrival.call.into, arrival.value);
        break;
      case 'subtask-ended':
        this.record({ type: 'subtask-ended', taskId: arrival.outcome.taskId, state: arrival.outcome.state });
        if (arrival.into) this.data = setAtPath(this.data, arrival.into, arrival.outcome);
        // The subtask that put this task in error was helped directly, and has ended: this task goes on.
        if (this.error?.reason === 'subtask-failed' && this.error.subtaskId === arrival.outcome.taskId) this.revive();
        break;
      case 'call-failed':
        this.record({ type: 'call-failed', step: arrival.step, ...callOf(arrival.call), message: arrival.message });
        this.failedCall = { step: arrival.step, call: arrival.call };
        this.fail({
          step: arrival.step,
          message: `connector call ${arrival.call.connector}.${arrival.call.method} (into ${arrival.call.into}) failed: ${arrival.message}`,
          attempts: arrival.attempts,
          reason: 'connector-failed',
        });
        return;
    }
    if (this.state === 'attention') this.moveTo('running');
    if (Object.keys(this.data).length === 0) {
      if (this.lossless) this.finishing ??= { state: 'done', result: null };
      else this.moveTo('done');
    }
  }

  /** An update replaced what a step of the cycles running when it arrived (from `during` on) had written. */
  private recordOverwrites(patch: JsonObject, during: number): void {
    const pointers = mergePatchPointers(patch);
    for (const { cycle, writes } of this.recentWrites) {
      if (cycle < during) continue;
      for (const { step, changed } of writes) {
        const paths = changed.filter((path) => pointers.some((pointer) => pointersOverlap(pointer, path)));
        if (paths.length === 0) continue;
        const conflict: ConflictRecord = { cycle, paths, kept: UPDATE_WRITER, dropped: step, outcome: 'overwritten' };
        this.conflicts.push(conflict);
        this.record({ type: 'conflict', ...conflict });
      }
    }
  }

  fail(error: TaskError): void {
    this.error = error;
    this.moveTo('error');
  }

  /** Step executions counted against `maxStepRuns` start here; a resume after the guard tripped grants a new budget. */
  private budgetStart = 0;

  /** Would running `count` more steps exceed the runaway-loop guard? */
  exceedsStepBudget(count: number): boolean {
    return count > this.remainingStepRuns;
  }

  /** The work one recognize phase of this task may take (`maxRecognizeWork`). */
  get recognizeWorkLimit(): number {
    return this.options.maxRecognizeWork ?? RECOGNIZE_WORK_LIMIT;
  }

  /** Step executions left before the runaway-loop guard trips. */
  get remainingStepRuns(): number {
    return this.options.maxStepRuns - (this.stepRuns - this.budgetStart);
  }

  /** The deferred connector call that failed for good, so that a resume can run it again. */
  private failedCall: { step: string; call: DeferredCall } | null = null;

  /**
   * Leaves `error`/`attention` to run again. Returns what a resume must run again (the step or the
   * connector call that failed), or null when the cycle should simply match again.
   */
  revive(): Retry | null {
    const error = this.error;
    const failedCall = this.failedCall;
    this.error = null;
    this.failedCall = null;
    this.moveTo('running');
    if (error?.reason === 'max-step-runs') this.budgetStart = this.stepRuns;
    if (error?.reason === 'connector-failed' && failedCall) return { kind: 'call', ...failedCall };
    if (error?.reason === 'subtask-failed' && error.subtaskId) return { kind: 'subtask', taskId: error.subtaskId };
    if (error?.reason !== 'step-failed') return null;
    this.ran.delete(error.step);
    return { kind: 'step', step: error.step };
  }

  snapshot(): TaskSnapshot {
    return {
      taskId: this.taskId,
      name: this.name,
      tags: [...this.tags],
      state: this.state,
      data: this.data,
      result: this.result,
      cycle: this.cycle,
      stepRuns: this.stepRuns,
      catalogVersion: this.catalogVersion,
      trace: this.trace,
      traceOffset: this.traceOffset,
      conflicts: this.conflicts,
      error: this.error,
    };
  }
}

/** What an event says about a deferred connector call (never its arguments: they may carry secrets). */
export function callOf(call: DeferredCall): { connector: string; method: string; into: string } {
  return { connector: call.connector, method: call.method, into: call.into };
}
