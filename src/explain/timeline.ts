/**
 * Rebuilds a task's data, catalog and eligibility at any cycle from what its history recorded: the
 * workflow input, the catalog each load returned, every step's patch and commands, connector results,
 * updates from outside and ended subtasks. Nothing is run again: patches are applied with the same merge
 * the workflow uses, so the data at a cycle is the data the workflow held then.
 *
 * Pure: history-fetch.ts turns a Temporal history into the facts read here.
 */
import { compileCatalog, type CompiledCatalog } from '../cycle/select';
import { mergeBatch, mergePatches } from '../cycle/merge';
import { setAtPath } from '../cycle/paths';
import { applyMergePatch } from '../model/patch';
import type { JsonObject, JsonValue } from '../model/json';
import type { Catalog, DeferredCall, StepOutcome, SubtaskRequest, TaskState } from '../model/task';
import type { TaskWorkflowInput } from '../workflows/api';

/** What a history says, in the order it happened (one run of the task). */
export type HistoryFact =
  | { kind: 'catalog'; catalog: Catalog }
  | { kind: 'step-scheduled'; id: string; cycle: number; step: string }
  | { kind: 'step-completed'; id: string; outcome: StepOutcome }
  | { kind: 'step-failed'; id: string }
  | { kind: 'call-scheduled'; id: string; call: DeferredCall }
  | { kind: 'call-completed'; id: string; value: JsonValue }
  | { kind: 'update'; patch: JsonObject }
  | { kind: 'child-started'; workflowId: string }
  | { kind: 'child-ended'; workflowId: string; state: TaskState; result: JsonValue | null };

export interface RecordedRun {
  runId: string;
  input: TaskWorkflowInput;
  facts: HistoryFact[];
}

/** A listed step sequence and the index of the step it runs next. */
export interface SequenceAt {
  steps: string[];
  next: number;
}

/** One cycle as it happened: the data its steps were chosen on, and the data it left. */
export interface CycleRecord {
  cycle: number;
  /** The data the cycle's steps were chosen on (arrivals before it taken in). */
  before: JsonObject;
  /** The data after the cycle's changes were merged. */
  after: JsonObject;
  /** The steps that ran, in rank order. */
  steps: string[];
  /** Steps of the batch whose changes were kept (the others were held back, or failed). */
  merged: string[];
  catalog: Catalog | null;
  /** Steps that had run (and were not eligible) when the cycle was chosen. */
  ranBefore: string[];
  sequence: SequenceAt | null;
}

/** The task as the history leaves it: what the next cycle would be chosen on. */
export interface TaskAt {
  cycle: number;
  data: JsonObject;
  catalog: Catalog | null;
  ran: string[];
  sequence: SequenceAt | null;
  concurrency: number;
}

interface Batch {
  cycle: number;
  before: JsonObject;
  ranBefore: string[];
  sequence: SequenceAt | null;
  catalog: Catalog | null;
  /** In scheduling (rank) order. */
  steps: { id: string; step: string; outcome: StepOutcome | null; done: boolean }[];
}

type Arrival = { kind: 'update'; patch: JsonObject } | { kind: 'set'; into: string; value: JsonValue };

/**
 * Walks the runs (oldest first; each later run continues the one before) and calls `visit` with every
 * cycle as it completes; `visit` returns false to stop early. Returns the task as the walk left it.
 */
export function walkHistory(runs: readonly RecordedRun[], visit: (record: CycleRecord) => boolean = () => true): TaskAt {
  const first = runs[0];
  if (!first) throw new Error('no recorded run to rebuild the task from');
  const lossless = first.input.options.rules === 2;
  let data: JsonObject = first.input.carried?.task.data ?? first.input.data;
  let cycle = first.input.carried?.task.cycle ?? 0;
  const ran = new Set<string>(first.input.carried?.task.ran ?? []);
  let sequence: SequenceAt | null = first.input.carried
    ? first.input.carried.task.sequence
      ? { steps: first.input.carried.task.sequence.steps, next: first.input.carried.task.sequence.next }
      : null
    : first.input.sequence
      ? { steps: first.input.sequence.steps, next: 0 }
      : null;
  let catalog: Catalog | null = first.input.carried?.catalog ?? null;
  let compiled: CompiledCatalog | null = catalog && compileCatalog(catalog);
  let stopped = false;

  for (const run of runs) {
    if (stopped) break;
    const pending: Arrival[] = [];
    const calls = new Map<string, DeferredCall>();
    const subtaskInto: (string | null)[] = [];
    const childInto = new Map<string, string | null>();
    let batch: Batch | null = null;
    const scheduled = new Map<string, Batch>();

    const takeArrivals = () => {
      for (const arrival of pending.splice(0)) {
        data =
          arrival.kind === 'update' ? (applyMergePatch(data, arrival.patch) as JsonObject) : setAtPath(data, arrival.into, arrival.value);
      }
    };

    const finishBatch = (done: Batch) => {
      const runsDone = done.steps.filter((s) => s.outcome !== null) as { id: string; step: string; outcome: StepOutcome }[];
      let mergedSteps: string[];
      if (lossless) {
        const reads = (step: string) => compiled?.steps.find((entry) => entry.step.name === step)?.reads ?? [];
        const merge = mergeBatch(
          done.before,
          runsDone.map((r) => ({ step: r.step, patch: r.outcome.patch, reads: [...reads(r.step), ...(r.outcome.reads ?? [])] })),
        );
        data = merge.data;
        mergedSteps = merge.merged.map((m) => m.step);
      } else {
        data = mergePatches(
          done.before,
          runsDone.map((r) => ({ step: r.step, patch: r.outcome.patch })),
        ).data;
        mergedSteps = runsDone.map((r) => r.step);
      }
      for (const step of mergedSteps) ran.add(step);
      for (const r of runsDone) {
        if (!mergedSteps.includes(r.step)) continue;
        for (const command of r.outcome.commands) {
          if (command.type === 'redo') ran.delete(r.step);
          if (command.type === 'subtask') subtaskInto.push((command.request as SubtaskRequest).into);
        }
      }
      if (sequence && done.steps.length === 1) {
        const only = done.steps[0]!;
        const redone =
          mergedSteps.includes(only.step) &&
          runsDone.some((r) => r.step === only.step && r.outcome.commands.some((c) => c.type === 'redo'));
        if (sequence.steps[sequence.next] === only.step && only.outcome !== null && !redone)
          sequence = { ...sequence, next: sequence.next + 1 };
      }
      cycle = Math.max(cycle, done.cycle);
      const record: CycleRecord = {
        cycle: done.cycle,
        before: done.before,
        after: data,
        steps: done.steps.map((s) => s.step),
        merged: mergedSteps,
        catalog: done.catalog,
        ranBefore: done.ranBefore,
        sequence: done.sequence,
      };
      if (!visit(record)) stopped = true;
    };

    for (const fact of run.facts) {
      if (stopped) break;
      switch (fact.kind) {
        case 'catalog':
          catalog = fact.catalog;
          compiled = compileCatalog(catalog);
          break;
        case 'step-scheduled': {
          if (!batch || batch.cycle !== fact.cycle) {
            takeArrivals();
            // A listed step whose condition did not match was skipped before this one was chosen.
            if (sequence) {
              const at = sequence.steps.indexOf(fact.step, sequence.next);
              if (at >= 0) sequence = { ...sequence, next: at };
            }
            batch = { cycle: fact.cycle, before: data, ranBefore: [...ran].sort(), sequence, catalog, steps: [] };
          }
          batch.steps.push({ id: fact.id, step: fact.step, outcome: null, done: false });
          scheduled.set(fact.id, batch);
          break;
        }
        case 'step-completed':
        case 'step-failed': {
          const owner = scheduled.get(fact.id);
          const entry = owner?.steps.find((s) => s.id === fact.id);
          if (!owner || !entry) break;
          entry.done = true;
          if (fact.kind === 'step-completed') entry.outcome = fact.outcome;
          if (owner.steps.every((s) => s.done)) {
            finishBatch(owner);
            if (batch === owner) batch = null;
          }
          break;
        }
        case 'call-scheduled':
          calls.set(fact.id, fact.call);
          break;
        case 'call-completed': {
          const call = calls.get(fact.id);
          if (call) pending.push({ kind: 'set', into: call.into, value: fact.value });
          break;
        }
        case 'update':
          pending.push({ kind: 'update', patch: fact.patch });
          break;
        case 'child-started':
          childInto.set(fact.workflowId, subtaskInto.shift() ?? null);
          break;
        case 'child-ended': {
          const into = childInto.get(fact.workflowId);
          if (into) pending.push({ kind: 'set', into, value: { taskId: fact.workflowId, state: fact.state, result: fact.result } });
          break;
        }
      }
    }
    if (!stopped) takeArrivals();
  }
  if (sequence && sequence.next >= sequence.steps.length) sequence = null;
  return { cycle, data, catalog, ran: [...ran].sort(), sequence, concurrency: first.input.options.concurrency };
}

/** The data after cycle `n` (0: as the task started); null when the history has no such cycle. */
export function dataAfterCycle(runs: readonly RecordedRun[], n: number): JsonObject | null {
  const first = runs[0];
  if (!first) return null;
  const startCycle = first.input.carried?.task.cycle ?? 0;
  if (n === startCycle) return first.input.carried?.task.data ?? first.input.data;
  let found: JsonObject | null = null;
  walkHistory(runs, (record) => {
    if (record.cycle === n) found = record.after;
    return record.cycle < n;
  });
  return found;
}

/** The cycle record of cycle `n`, or null. */
export function cycleRecord(runs: readonly RecordedRun[], n: number): CycleRecord | null {
  let found: CycleRecord | null = null;
  walkHistory(runs, (record) => {
    if (record.cycle === n) found = record;
    return record.cycle < n;
  });
  return found;
}
