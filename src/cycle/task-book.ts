import type { JsonObject, JsonValue } from '../model/json';
import { isTerminal, type ConflictRecord, type StepCommand, type TaskError, type TaskOptions, type TaskSnapshot, type TaskState, type TraceEntry } from '../model/task';
import type { MergeResult } from './merge';

export interface StepRun {
  step: string;
  startedAt: string;
  attempt: number;
  durationMs: number;
  logs: TraceEntry['logs'];
  commands: StepCommand[];
}

/**
 * Everything a task remembers between cycles, and the rules for changing it. Pure and deterministic
 * (it runs inside the workflow); the workflow only decides when to call it.
 */
export class TaskBook {
  state: TaskState = 'running';
  data: JsonObject;
  result: JsonValue | null = null;
  error: TaskError | null = null;
  cycle = 0;
  stepRuns = 0;
  catalogVersion = '';
  readonly trace: TraceEntry[] = [];
  readonly conflicts: ConflictRecord[] = [];
  /** Steps that have run and not asked to run again (SEMANTICS.md: eligible until it has run). */
  private readonly ran = new Set<string>();

  constructor(
    readonly taskId: string,
    public name: string,
    public tags: string[],
    data: JsonObject,
    readonly options: TaskOptions,
  ) {
    this.data = data;
  }

  isEligible = (step: string): boolean => !this.ran.has(step);

  get terminal(): boolean {
    return isTerminal(this.state);
  }

  /** `error` and `attention`: alive, but nothing runs until something comes from outside. */
  get needsOutsideHelp(): boolean {
    return this.state === 'error' || this.state === 'attention';
  }

  /**
   * Act, second half: the merged data becomes the task's data, each run is traced, and the commands
   * take effect in rank order (the first `complete`/`ignore` wins).
   */
  recordCycle(runs: StepRun[], merged: MergeResult): void {
    this.cycle += 1;
    this.data = merged.data;
    for (const conflict of merged.conflicts) this.conflicts.push({ cycle: this.cycle, ...conflict });
    for (const run of runs) {
      this.stepRuns += 1;
      this.ran.add(run.step);
      const changed = merged.applied.find((a) => a.step === run.step)?.changed ?? [];
      this.trace.push({ step: run.step, cycle: this.cycle, startedAt: run.startedAt, durationMs: run.durationMs, attempt: run.attempt, changed, logs: run.logs });
    }
    for (const run of runs) {
      for (const command of run.commands) this.apply(run.step, command);
    }
    if (!this.terminal && Object.keys(this.data).length === 0) this.state = 'done';
  }

  private apply(step: string, command: StepCommand): void {
    switch (command.type) {
      case 'redo':
        this.ran.delete(step);
        return;
      case 'complete':
        if (this.terminal) return;
        this.state = 'done';
        this.result = command.result;
        return;
      case 'ignore':
        if (this.terminal) return;
        this.state = 'ignored';
        return;
    }
  }

  fail(error: TaskError): void {
    this.error = error;
    this.state = 'error';
  }

  /** Step executions counted against `maxStepRuns` start here; a resume after the guard tripped grants a new budget. */
  private budgetStart = 0;

  /** Would running `count` more steps exceed the runaway-loop guard? */
  exceedsStepBudget(count: number): boolean {
    return this.stepRuns - this.budgetStart + count > this.options.maxStepRuns;
  }

  /**
   * Leaves `error`/`attention` to run again. Returns the step a resume must run again (the one that
   * failed), or null when the cycle should simply match again.
   */
  revive(): string | null {
    const error = this.error;
    this.error = null;
    this.state = 'running';
    if (error?.reason === 'max-step-runs') this.budgetStart = this.stepRuns;
    if (error?.reason !== 'step-failed') return null;
    this.ran.delete(error.step);
    return error.step;
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
      conflicts: this.conflicts,
      error: this.error,
    };
  }
}
