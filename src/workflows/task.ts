import * as wf from '@temporalio/workflow';
import type { TaskActivities } from '../activities';
import { mergeBatch, mergePatches } from '../cycle/merge';
import { compileCatalog, selectSteps, type CompiledCatalog } from '../cycle/select';
import type { SequencePosition } from '../model/events';
import { TaskBook, type CycleEffects, type Retry, type StepRun } from '../cycle/task-book';
import { isJsonObject, type JsonObject } from '../model/json';
import { describeOverLimit, maxDataBytesOf, overDataLimit } from '../cycle/data-limit';
import { applyMergePatch } from '../model/patch';
import type { Catalog, CatalogStep, StepOutcome, TaskError, TaskSnapshot } from '../model/task';
import { TASK_NAME_KEY, TASK_STATE_KEY, TASK_TAGS_KEY } from '../model/search-attributes';
import { eventsQuery, progressQuery, reloadUpdate, resumeSignal, resumeUpdate, snapshotQuery, stopSignal, stopUpdate, subtaskNeedsHelpSignal, updateDataUpdate, type TaskWorkflowInput } from './api';
import { DeferredCalls, Subtasks, type Inbox } from './effects';
import { runStep } from './run-step';
import { describeStepFailure } from './failures';
import { checkCatalog, checkStepOutcome } from '../model/activity-results';
import { RECOGNIZE_WORK_LIMIT, WorkLimitError, withWorkLimit } from '../conditions/work-meter';
import { startCycleSpan } from './cycle-span';

const catalogActivityOptions: wf.ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['WorkspaceError'] },
};
const { loadCatalog } = wf.proxyActivities<TaskActivities>(catalogActivityOptions);
/**
 * The catalog is read by a local activity: its result is still recorded in history (a marker), but
 * without an activity task and a workflow task of its own for every task start and reload.
 */
const { loadCatalog: loadCatalogLocally } = wf.proxyLocalActivities<TaskActivities>(catalogActivityOptions);

/**
 * One task: the recognize–act cycle of docs/semantics.md over the task's data.
 * Between cycles it takes in what arrived (new data, connector results, ended subtasks) and waits
 * while it is parked, waiting for subtasks or calls, or needs outside help.
 * recognize: match conditions, resolve conflicts; act: run the chosen steps as activities on one
 * snapshot; merge their patches; apply their commands; repeat until the task is terminal.
 */
export async function taskWorkflow(input: TaskWorkflowInput): Promise<TaskSnapshot> {
  const taskId = wf.workflowInfo().workflowId;
  const { carried } = input;
  const task = carried ? TaskBook.resume(taskId, input.name, input.tags, input.options, carried.task) : new TaskBook(taskId, input.name, input.tags, input.data, input.options);
  if (!carried) startTask(task, input);
  if (!carried && wf.patched(START_ATTRIBUTES_PATCH)) adoptStartAttributes(task);
  const inbox: Inbox = [];
  const record = task.record.bind(task);
  // Step activities and connector calls run in this scope: stopping the task cancels them.
  const inFlight = new wf.CancellationScope();
  const calls = new DeferredCalls(task.taskId, inbox, record, inFlight);
  const subtasks = new Subtasks(task.taskId, task.options, inbox, record);
  const deadline = new Deadline(task);
  const control = listenForControl(task, inbox, subtasks, inFlight, deadline);
  let source = carried?.catalog;
  let catalog: CompiledCatalog | undefined = source && compileCatalogFor(task, source);
  let parkedUntil: number | null = carried?.parkedUntil ?? null;
  if (carried?.deadlineAt != null) deadline.setAt(carried.deadlineAt);

  const somethingArrived = () => inbox.length > 0 || task.terminal;
  const waitFor = async (until: () => boolean, timeoutMs?: number) => {
    publishSearchAttributes(task);
    await (timeoutMs === undefined ? wf.condition(until) : wf.condition(until, timeoutMs));
  };
  /** `waiting`: parked, or for subtasks or deferred calls; anything arriving (or `also`) ends the wait. */
  const waitForArrival = async (options: { timeoutMs?: number; also?: () => boolean } = {}) => {
    task.state = 'waiting';
    const { also } = options;
    await waitFor(also ? () => somethingArrived() || also() : somethingArrived, options.timeoutMs);
    if (task.state === 'waiting') task.state = 'running';
  };

  /** Rules 2: a subtask in error or attention tells its parent once each time (a parent may wait for it). */
  let parentTold = false;

  while (!task.terminal) {
    for (const arrival of inbox.splice(0)) task.receive(arrival);
    if (task.terminal) break;

    // A long task starts a fresh history, carrying everything forward, once nothing is in flight.
    if (source && runIsLong(task) && calls.outstanding + subtasks.outstanding === 0 && !control.hasPending()) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof taskWorkflow>({
        name: task.name,
        tags: task.tags,
        data: {},
        options: task.options,
        carried: { task: task.carry(), catalog: source, parkedUntil, deadlineAt: deadline.at },
      });
    }

    if (task.needsOutsideHelp) {
      if (!parentTold && task.lossless) tellParent(task);
      parentTold = true;
      await waitFor(() => !task.needsOutsideHelp || somethingArrived());
      continue;
    }
    parentTold = false;
    if (parkedUntil !== null) {
      // Parked: a durable timer, cut short by anything arriving (new data from outside above all).
      const remaining = parkedUntil - Date.now();
      parkedUntil = null;
      // Rules 2: a reload ends the park too, so the new steps run at once.
      if (remaining > 0) await waitForArrival({ timeoutMs: remaining, ...(task.lossless ? { also: control.reloadRequested } : {}) });
      continue;
    }
    if (subtasks.blocking > 0) {
      await waitForArrival();
      continue;
    }

    if (control.takeReload()) catalog = undefined;
    if (!catalog) {
      source = await loadCatalogInto(task);
      catalog = source && compileCatalogFor(task, source);
    }
    if (!catalog) continue;
    const current = catalog;
    const retry = control.takeRetry();
    if (retry?.kind === 'call') {
      calls.start(retry.step, retry.call, current.connectors, `${task.taskId}:retry:${task.cycle}`);
      continue;
    }
    if (task.finishing) {
      // Rules 2: the task ends once the calls it made have answered and its subtasks have started (and
      // ended, those it waits for); their results land in the data first.
      const pending = () => calls.outstanding + subtasks.pendingBeforeEnd > 0;
      if (pending()) await waitForArrival({ also: () => !pending() });
      else task.finish();
      continue;
    }
    // An explicit sequence runs its steps one after another: each waits for the calls of the one before.
    if (task.sequence && calls.outstanding > 0) {
      await waitForArrival();
      continue;
    }
    if (task.sequence && !sequenceFitsCatalog(task, catalog)) continue;
    const listed = task.sequenceStep;
    if (task.sequence && !listed) {
      task.finishSequence();
      continue;
    }
    const chosen = boundedRecognize(task, () => (listed ? guard(task, current, listed) : recognize(task, current, retry?.kind === 'step' ? retry.step : null)));
    if (chosen === null) continue;
    if (chosen.length === 0) {
      if (listed) task.advanceSequence();
      else if (calls.outstanding + subtasks.outstanding > 0) await waitForArrival();
      else task.state = 'attention';
      continue;
    }
    const effects = await inFlight.run(() => act(task, chosen, current, listed?.position));
    if (!effects) continue;
    if (listed && !task.needsOutsideHelp && !effects.redone.includes(listed.name)) task.advanceSequence();
    if (effects.park !== null && !task.finishing) {
      parkedUntil = Date.now() + effects.park;
      task.record({ type: 'parked', ms: effects.park });
    }
    if (effects.timeout !== null) deadline.set(effects.timeout);
    for (const { step, request } of effects.subtasks) subtasks.start(step, request);
    for (const { step, call } of effects.calls) calls.start(step, call, current.connectors, `${task.taskId}:${task.cycle}:${step}`);
  }
  task.record({ type: 'task-ended', state: task.state });
  publishSearchAttributes(task);
  await wf.condition(wf.allHandlersFinished);
  return { ...task.snapshot(), settled: true, deadlineAt: null };
}

/** A subtask in error or attention tells its parent, which fails if it waits for it (and resumes it on resume). */
function tellParent(task: TaskBook): void {
  const parent = wf.workflowInfo().parent;
  if (!parent) return;
  const report = { taskId: task.taskId, state: task.state, error: task.error };
  // The parent may have ended meanwhile: nobody is left to tell.
  wf.getExternalWorkflowHandle(parent.workflowId).signal(subtaskNeedsHelpSignal, report).catch(() => undefined);
}

function startTask(task: TaskBook, input: TaskWorkflowInput): void {
  if (input.sequence) task.sequence = { steps: [...input.sequence.steps], next: 0, thenCycle: input.sequence.thenCycle };
  task.record({ type: 'task-started', name: task.name, sequence: input.sequence?.steps ?? null });
}

/** Every listed step must exist before any of them runs; a reload after adding the files lets the task go on. */
function sequenceFitsCatalog(task: TaskBook, catalog: CompiledCatalog): boolean {
  const known = new Set(catalog.steps.map((entry) => entry.step.name));
  const unknown = [...new Set(task.sequence?.steps.filter((name) => !known.has(name)) ?? [])];
  if (unknown.length === 0) return true;
  task.fail({ step: unknown[0]!, message: `the sequence names steps the workspace does not have: ${unknown.join(', ')}`, attempts: 0, reason: 'sequence-invalid' });
  return false;
}

/** A listed step runs when its condition matches the data; otherwise it is skipped, and the skip recorded. */
function guard(task: TaskBook, catalog: CompiledCatalog, listed: { name: string; position: SequencePosition }): CatalogStep[] {
  const entry = catalog.steps.find((candidate) => candidate.step.name === listed.name)!;
  if (entry.matches(task.data)) return [entry.step];
  task.record({ type: 'step-skipped', step: listed.name, reason: 'its condition does not match the data', position: listed.position });
  return [];
}

/**
 * Runs one recognize phase within RECOGNIZE_WORK_LIMIT, so that no data makes a workflow task run past
 * its timeout (and fail again on every retry). Past the limit the task is in error (null); new data
 * (`task update`) or a reload and a resume let it go on.
 */
function boundedRecognize(task: TaskBook, select: () => CatalogStep[]): CatalogStep[] | null {
  try {
    return withWorkLimit(task.options.maxRecognizeWork ?? RECOGNIZE_WORK_LIMIT, select);
  } catch (error) {
    if (!(error instanceof WorkLimitError)) throw error;
    task.fail({ step: '', message: error.message, attempts: 0, reason: 'work-limit' });
    return null;
  }
}

/** Recognize: the steps that act in this cycle (or the one step a resume asked to run again). */
function recognize(task: TaskBook, catalog: CompiledCatalog, forced: string | null): CatalogStep[] {
  if (forced) return catalog.steps.filter((entry) => entry.step.name === forced).map((entry) => entry.step);
  return selectSteps(catalog, task.data, task.isEligible, task.options.concurrency).run;
}

/**
 * Act: run the chosen steps (one, or a parallel batch on one snapshot), merge their patches, apply their
 * commands.
 */
async function act(task: TaskBook, chosen: CatalogStep[], catalog: CompiledCatalog, position?: SequencePosition): Promise<CycleEffects | null> {
  if (task.exceedsStepBudget(chosen.length)) {
    task.fail({
      step: chosen[0]!.name,
      message: `more than ${task.options.maxStepRuns} step executions in one task (maxStepRuns); a step may be redoing itself forever`,
      attempts: 0,
      reason: 'max-step-runs',
    });
    return null;
  }
  task.state = 'running';
  publishSearchAttributes(task);
  const snapshot = task.data;
  const steps = chosen.map((step) => step.name);
  const cycle = task.beginCycle(steps, position);
  const startedAt = new Date(Date.now()).toISOString();
  const span = startCycleSpan({ taskId: task.taskId, cycle, steps, position });
  // In a parallel batch each step reports what it read, to be checked against the writes ranked before it.
  const trackReads = task.lossless && chosen.length > 1;
  const settled = await span.activate(() => Promise.allSettled(chosen.map((step) => runStep(task, step, cycle, trackReads))));

  const runs: (StepRun & { patch: StepOutcome['patch']; reads: string[] })[] = [];
  let failure: TaskError | null = null;
  settled.forEach((settledRun, i) => {
    const step = chosen[i]!;
    // A step activity's result is checked like any outside input: a wrong shape fails the step, not the workflow.
    const checked = settledRun.status === 'fulfilled' ? checkStepOutcome(settledRun.value) : null;
    const result: PromiseSettledResult<StepOutcome> =
      checked === null ? settledRun : checked.ok ? { status: 'fulfilled', value: checked.value } : { status: 'rejected', reason: new Error(`the step activity returned a malformed outcome: ${checked.problem}`) };
    if (result.status === 'fulfilled') {
      const { attempt, durationMs, logs, commands, patch, reads } = result.value;
      // Checked by checkStepOutcome above: a list of paths when present.
      const contentReads = reads ?? [];
      const conditionReads = catalog.steps.find((entry) => entry.step === step)?.reads ?? [];
      runs.push({ step: step.name, startedAt, attempt, durationMs, logs, commands, patch, reads: [...conditionReads, ...contentReads], ...(position ? { position } : {}) });
    } else if (!task.terminal) {
      // After a stop, the cancelled steps are not failures of the task.
      const error = describeStepFailure(step, result.reason);
      task.stepFailed(cycle, error, position);
      failure ??= error;
    }
  });
  // Steps that succeeded keep their effects even when a sibling failed: their side effects happened.
  const effects = task.lossless
    ? task.recordBatch(runs, mergeBatch(snapshot, runs))
    : task.recordCycle(runs, mergePatches(snapshot, runs.map((run) => ({ step: run.step, patch: run.patch }))));
  if (failure && !task.terminal) task.fail(failure);
  span.end(failure);
  publishSearchAttributes(task);
  return effects;
}

/** Time for a fresh history: Temporal suggests it, the history limit is reached, or the event window is full. */
function runIsLong(task: TaskBook): boolean {
  const info = wf.workflowInfo();
  if (info.continueAsNewSuggested || info.historyLength >= task.options.historyLimit) return true;
  return task.events.isFull && wf.patched(EVENT_WINDOW_PATCH);
}

/** Runs recorded before the event stream had a bounded window never continued as new because of it. */
const EVENT_WINDOW_PATCH = 'event-window-continue-as-new';
/** Runs recorded before a stop cancelled running step activities and connector calls. */
const STOP_CANCELS_PATCH = 'stop-cancels-in-flight-work';

/** Runs recorded before the catalog was read by a local activity read it with a regular one. */
const CATALOG_LOCAL_PATCH = 'catalog-local-activity';
/** Runs recorded before a task adopted the search attributes it was started with upserted them again. */
const START_ATTRIBUTES_PATCH = 'start-attributes-adopted';

/** The catalog's conditions compiled; one that cannot be (a pattern the engine refuses) puts the task in error. */
function compileCatalogFor(task: TaskBook, source: Catalog): CompiledCatalog | undefined {
  try {
    return compileCatalog(source);
  } catch (error) {
    task.fail({ step: '', message: `the catalog's conditions cannot be evaluated: ${error instanceof Error ? error.message : String(error)}`, attempts: 1, reason: 'catalog-invalid' });
    return undefined;
  }
}

async function loadCatalogInto(task: TaskBook): Promise<Catalog | undefined> {
  try {
    // Tasks started since the start attributes are adopted read the catalog locally too (one marker, not two).
    const local = wf.patched(START_ATTRIBUTES_PATCH) || wf.patched(CATALOG_LOCAL_PATCH);
    const loaded = await (local ? loadCatalogLocally() : loadCatalog());
    const checked = checkCatalog(loaded);
    if (!checked.ok) {
      task.fail({ step: '', message: `the catalog the worker loaded is malformed: ${checked.problem}`, attempts: 1, reason: 'catalog-invalid' });
      return undefined;
    }
    const catalog = checked.value;
    task.catalogVersion = catalog.version;
    if (catalog.broken?.length) task.record({ type: 'steps-disabled', problems: catalog.broken });
    return catalog;
  } catch (error) {
    const cause = error instanceof wf.ActivityFailure && error.cause ? error.cause : error;
    task.fail({ step: '', message: cause instanceof Error ? cause.message : String(cause), attempts: 1, reason: 'catalog-invalid' });
    return undefined;
  }
}

/** `task.timeout(ms)`: a durable timer; a later call replaces an earlier deadline. */
class Deadline {
  private generation = 0;
  /** Workflow time at which the task expires, or null. */
  at: number | null = null;

  constructor(private readonly task: TaskBook) {}

  set(ms: number): void {
    this.setAt(Date.now() + ms);
  }

  setAt(at: number): void {
    const generation = ++this.generation;
    this.at = at;
    void wf.sleep(Math.max(1, at - Date.now())).then(() => {
      if (generation !== this.generation) return;
      this.at = null;
      this.task.expire();
    });
  }
}

function listenForControl(
  task: TaskBook,
  inbox: Inbox,
  subtasks: Subtasks,
  inFlight: wf.CancellationScope,
  deadline: Deadline,
): { takeRetry(): Retry | null; takeReload(): boolean; hasPending(): boolean; reloadRequested(): boolean } {
  let retry: Retry | null = null;
  let reload = false;
  /** Nothing more happens without outside help: ended, or in error or attention with no deadline to wait for. */
  const settled = () => task.terminal || (task.needsOutsideHelp && deadline.at === null);
  wf.setHandler(snapshotQuery, () => ({ ...task.snapshot(), settled: settled(), deadlineAt: deadline.at }));
  wf.setHandler(eventsQuery, (after, limit) => ({ ...task.events.page(after, task.state, limit), settled: settled() }));
  wf.setHandler(progressQuery, (cursor) => {
    const { entries, next } = task.traceSince(cursor);
    return { state: task.state, cycle: task.cycle, trace: entries, next, conflicts: task.conflicts, error: task.error, settled: settled() };
  });
  /** A resume: the failed step or call runs again; a failed subtask is resumed, and the task waits for it again. */
  const resume = () => {
    retry = task.revive();
    if (retry?.kind === 'subtask') {
      subtasks.resume(retry.taskId);
      retry = null;
    }
  };
  // A parent resuming this task (it failed, and the parent waits for it).
  wf.setHandler(resumeSignal, () => {
    if (task.needsOutsideHelp) resume();
  });
  wf.setHandler(subtaskNeedsHelpSignal, (report) => {
    if (!task.terminal && subtasks.waitsFor(report.taskId)) inbox.push({ kind: 'subtask-needs-help', ...report });
  });
  const refuseWhenTerminal = () => {
    if (task.terminal) throw new Error(`task is already ${task.state}`);
  };
  wf.setHandler(
    resumeUpdate,
    () => {
      resume();
      return task.state;
    },
    {
      validator: () => {
        if (!task.needsOutsideHelp) throw new Error(`task is ${task.state}; only a task in error or attention can be resumed`);
      },
    },
  );
  const stop = async () => {
    if (task.terminal) return task.state;
    task.state = 'stopped';
    if (wf.patched(STOP_CANCELS_PATCH)) inFlight.cancel();
    await subtasks.stopAll();
    return task.state;
  };
  wf.setHandler(stopUpdate, stop, { validator: refuseWhenTerminal });
  wf.setHandler(stopSignal, async () => {
    await stop();
  });
  wf.setHandler(
    updateDataUpdate,
    (patch) => {
      // Rules 2: an update that arrives while steps run is taken in after their changes, and replaces what they
      // wrote at the same paths (recorded as a conflict).
      inbox.push(task.lossless ? { kind: 'update', patch, during: task.actingCycle } : { kind: 'update', patch });
      return task.state;
    },
    {
      validator: (patch) => {
        refuseWhenTerminal();
        if (!isJsonObject(patch)) throw new Error('an update must be a JSON object (a JSON Merge Patch of the task data)');
        // Measured against the data the update will meet: the task's, with accepted updates not yet taken in.
        const current = inbox.reduce((data, arrival) => (arrival.kind === 'update' ? (applyMergePatch(data, arrival.patch) as JsonObject) : data), task.data);
        const over = overDataLimit(applyMergePatch(current, patch) as JsonObject, maxDataBytesOf(task.options), current);
        if (over) throw new Error(`the update would make the task data ${describeOverLimit(over)}; the task keeps its data`);
      },
    },
  );
  wf.setHandler(
    reloadUpdate,
    () => {
      reload = true;
      // A reload is outside help too: a task in attention or error runs again with the new steps.
      if (task.needsOutsideHelp) {
        const again = task.revive();
        if (again?.kind === 'subtask') subtasks.resume(again.taskId);
      }
      return task.state;
    },
    { validator: refuseWhenTerminal },
  );
  return {
    hasPending: () => retry !== null || reload,
    reloadRequested: () => reload,
    takeReload() {
      const taken = reload;
      reload = false;
      return taken;
    },
    takeRetry() {
      const taken = retry;
      retry = null;
      return taken;
    },
  };
}

// Keyed by task so that no state is shared between workflow executions in one worker context.
const published = new WeakMap<TaskBook, string>();

/**
 * The workflow's current details in the Temporal Web UI, where every live task shows as "Running": the
 * task's own state, cycle, last step, and its error. Details are read by a query, never recorded in history.
 */
function describeForWebUi(task: TaskBook): void {
  const last = task.trace[task.trace.length - 1];
  const lines = [`**${task.name}**: ${task.state}`, `cycle ${task.cycle}${last ? `, last step ${last.step}` : ''}`];
  if (task.error) lines.push(`error in ${task.error.step || 'the catalog'}: ${task.error.message}`);
  if (task.state === 'attention') lines.push('no step matches the data and nothing is pending: new data, a reload or a resume makes it run again');
  wf.setCurrentDetails(lines.join('\n\n'));
}

const attributesKey = (state: string, name: string, tags: readonly string[]) => JSON.stringify([state, name, tags]);

/**
 * A new task's search attributes were set by whoever started it (the client, or the parent of a subtask):
 * taken as published, the same values are not upserted again, which would cost an event and a visibility
 * write for every task.
 */
function adoptStartAttributes(task: TaskBook): void {
  const attributes = wf.workflowInfo().typedSearchAttributes;
  const state = attributes.get(TASK_STATE_KEY);
  const name = attributes.get(TASK_NAME_KEY);
  const tags = attributes.get(TASK_TAGS_KEY);
  if (state !== undefined && name !== undefined && tags !== undefined) published.set(task, attributesKey(state, name, tags));
}

function publishSearchAttributes(task: TaskBook): void {
  describeForWebUi(task);
  const current = attributesKey(task.state, task.name, task.tags);
  if (published.get(task) === current) return;
  published.set(task, current);
  wf.upsertSearchAttributes([
    { key: TASK_STATE_KEY, value: task.state },
    { key: TASK_NAME_KEY, value: task.name },
    { key: TASK_TAGS_KEY, value: task.tags },
  ]);
}
