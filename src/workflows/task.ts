import * as wf from '@temporalio/workflow';
import { nextMove, parentToldAfter, takesRetry, type Move } from '../cycle/next-move';
import type { CompiledCatalog } from '../cycle/select';
import { TaskBook } from '../cycle/task-book';
import type { Catalog, TaskSnapshot } from '../model/task';
import { act, actRanAhead } from './act';
import { StepsRanAhead } from './ran-ahead';
import { decideLocalStepsAtStart } from './run-step';
import { subtaskNeedsHelpSignal, type TaskWorkflowInput } from './api';
import { compileCatalogFor, loadCatalogInto } from './catalog';
import { listenForControl } from './control';
import { Deadline } from './deadline';
import { DeferredCalls, Subtasks, type Inbox } from './effects';
import { EVENT_WINDOW_PATCH, START_ATTRIBUTES_PATCH } from './patches';
import { adoptStartAttributes, publishSearchAttributes } from './search-attributes';

/**
 * One task: the recognize–act cycle of docs/semantics.md "The cycle" over the task's data. `nextMove` decides
 * what comes next (take in arrivals, wait, load the catalog, act on the chosen steps, finish); this loop carries
 * it out. "Rules 2" marks what tasks started under rules 2 do (docs/semantics.md "Rules versions").
 */
export async function taskWorkflow(input: TaskWorkflowInput): Promise<TaskSnapshot> {
  const taskId = wf.workflowInfo().workflowId;
  const { carried } = input;
  const task = carried
    ? TaskBook.resume(taskId, input.name, input.tags, input.options, carried.task)
    : new TaskBook(taskId, input.name, input.tags, input.data, input.options);
  if (!carried) startTask(task, input);
  if (!carried && wf.patched(START_ATTRIBUTES_PATCH)) adoptStartAttributes(task);
  decideLocalStepsAtStart(task);
  const inbox: Inbox = [];
  const record = task.record.bind(task);
  // Step activities and connector calls run in this scope: stopping the task cancels them.
  const inFlight = new wf.CancellationScope();
  const calls = new DeferredCalls(task.taskId, inbox, record, inFlight);
  const subtasks = new Subtasks(task.taskId, task.options, inbox, record);
  const deadline = new Deadline(task);
  const control = listenForControl(task, inbox, subtasks, inFlight, deadline);
  if (carried?.deadlineAt != null) deadline.setAt(carried.deadlineAt);

  let source: Catalog | undefined = carried?.catalog;
  let catalog: CompiledCatalog | undefined = source && compileCatalogFor(task, source);
  let parkedUntil: number | null = carried?.parkedUntil ?? null;
  let parentTold = false;
  let previous: Move | null = null;
  const ranAhead = new StepsRanAhead();

  const somethingArrived = () => inbox.length > 0 || task.terminal;
  const waitFor = async (until: () => boolean, timeoutMs?: number) => {
    publishSearchAttributes(task);
    await (timeoutMs === undefined ? wf.condition(until) : wf.condition(until, timeoutMs));
  };
  /** `waiting`: parked, or for subtasks or deferred calls; anything arriving (or `also`) ends the wait. */
  const waitForArrival = async (options: { timeoutMs?: number; also?: () => boolean } = {}) => {
    task.startWaiting();
    const { also } = options;
    await waitFor(also ? () => somethingArrived() || also() : somethingArrived, options.timeoutMs);
    task.stopWaiting();
  };

  for (;;) {
    // Steps run ahead take effect first, as if whatever arrived meanwhile had arrived after them.
    const holding = ranAhead.pending;
    const move = nextMove(task, {
      catalog,
      catalogLoaded: source !== undefined,
      catalogJustLoaded: previous?.kind === 'load-catalog',
      parkedUntil,
      now: Date.now(),
      parentTold,
      arrivals: holding ? 0 : inbox.length,
      work: {
        calls: calls.outstanding,
        subtasks: subtasks.outstanding,
        blockingSubtasks: subtasks.blocking,
        pendingBeforeEnd: subtasks.pendingBeforeEnd,
      },
      retry: control.pendingRetry(),
      reloadRequested: control.reloadRequested(),
      runIsLong: () => !holding && runIsLong(task),
    });
    if (move.kind !== 'act') ranAhead.drop(task);
    if (takesRetry(move)) control.takeRetry();
    parentTold = parentToldAfter(move, parentTold);
    previous = move;

    switch (move.kind) {
      case 'take-arrivals':
        for (const arrival of inbox.splice(0)) task.receive(arrival);
        break;
      case 'end':
        task.record({ type: 'task-ended', state: task.state });
        publishSearchAttributes(task);
        await wf.condition(wf.allHandlersFinished);
        return { ...task.snapshot(), settled: true, deadlineAt: null };
      case 'continue-as-new':
        await wf.condition(wf.allHandlersFinished);
        return wf.continueAsNew<typeof taskWorkflow>({
          name: task.name,
          tags: task.tags,
          data: {},
          options: task.options,
          carried: { task: task.carry(), catalog: source!, parkedUntil, deadlineAt: deadline.at },
        });
      case 'wait-for-help':
        if (move.tellParent) tellParent(task);
        await waitFor(() => !task.needsOutsideHelp || somethingArrived());
        break;
      case 'wait-for-park':
        parkedUntil = null;
        if (move.remainingMs > 0)
          await waitForArrival({ timeoutMs: move.remainingMs, ...(move.endsOnReload ? { also: control.reloadRequested } : {}) });
        break;
      case 'wait-for-arrivals':
        if (move.reason === 'pending-before-end') await waitForArrival({ also: () => calls.outstanding + subtasks.pendingBeforeEnd === 0 });
        else await waitForArrival();
        break;
      case 'load-catalog': {
        control.takeReload();
        // Loading may run the first steps ahead: a stop cancels it like any step, and an update arriving
        // meanwhile is checked against their writes.
        const start = ranAhead.fromStart(task);
        task.loadingAhead(start !== null);
        const loaded = await inFlight.run(() => loadCatalogInto(task, start));
        task.loadingAhead(false);
        source = loaded?.catalog;
        catalog = source && compileCatalogFor(task, source);
        if (catalog && loaded) ranAhead.hold(loaded.ahead);
        break;
      }
      case 'retry-call':
        calls.start(move.step, move.call, catalog!.connectors, `${task.taskId}:retry:${task.cycle}`);
        break;
      case 'finish':
        task.finish();
        break;
      case 'finish-sequence':
        task.finishSequence();
        break;
      case 'skip-listed':
        task.record({ type: 'step-skipped', step: move.step, reason: 'its condition does not match the data', position: move.position });
        task.advanceSequence();
        break;
      case 'attention':
        task.needAttention();
        break;
      case 'fail':
        task.fail(move.error);
        break;
      case 'act': {
        const current = catalog!;
        // A step run ahead for this cycle is recorded at once; otherwise the chosen steps run now.
        const taken = ranAhead.take(move.steps, move.position, task);
        const effects = taken
          ? actRanAhead(task, move.steps[0]!, current, taken)
          : await inFlight.run(() => act(task, move.steps, current, ranAhead, move.position));
        const listed = move.position ? move.steps[0]!.name : null;
        if (listed && !task.needsOutsideHelp && !effects.redone.includes(listed)) task.advanceSequence();
        if (effects.park !== null && !task.finishing) {
          parkedUntil = Date.now() + effects.park;
          task.record({ type: 'parked', ms: effects.park });
        }
        if (effects.timeout !== null) deadline.set(effects.timeout);
        for (const { step, request } of effects.subtasks) subtasks.start(step, request);
        for (const { step, call } of effects.calls) calls.start(step, call, current.connectors, `${task.taskId}:${task.cycle}:${step}`);
        break;
      }
    }
  }
}

/** A subtask in error or attention tells its parent, which fails if it waits for it (and resumes it on resume). */
function tellParent(task: TaskBook): void {
  const parent = wf.workflowInfo().parent;
  if (!parent) return;
  const report = { taskId: task.taskId, state: task.state, error: task.error };
  // The parent may have ended meanwhile: nobody is left to tell.
  wf.getExternalWorkflowHandle(parent.workflowId)
    .signal(subtaskNeedsHelpSignal, report)
    .catch(() => undefined);
}

function startTask(task: TaskBook, input: TaskWorkflowInput): void {
  if (input.sequence) task.sequence = { steps: [...input.sequence.steps], next: 0, thenCycle: input.sequence.thenCycle };
  task.record({ type: 'task-started', name: task.name, sequence: input.sequence?.steps ?? null });
}

/** Time for a fresh history: Temporal suggests it, the history limit is reached, or the event window is full. */
function runIsLong(task: TaskBook): boolean {
  const info = wf.workflowInfo();
  if (info.continueAsNewSuggested || info.historyLength >= task.options.historyLimit) return true;
  return task.events.isFull && wf.patched(EVENT_WINDOW_PATCH);
}
