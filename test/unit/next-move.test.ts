import { describe, expect, it } from 'vitest';
import { nextMove, parentToldAfter, takesRetry, type Move, type RunView } from '../../src/cycle/next-move';
import { compileCatalog, type CompiledCatalog } from '../../src/cycle/select';
import { TaskBook } from '../../src/cycle/task-book';
import type { JsonObject } from '../../src/model/json';
import { DEFAULT_TASK_OPTIONS, type DeferredCall, type TaskOptions } from '../../src/model/task';
import { catalogStep } from '../support/catalog-steps';

const catalog: CompiledCatalog = compileCatalog({
  version: 'v1',
  steps: [catalogStep('triage', { ticket: { status: 'new' } }, 2), catalogStep('reply', { ticket: { status: 'triaged' } }, 1)],
  connectors: {},
});

function task(data: JsonObject = { ticket: { status: 'new' } }, options: Partial<TaskOptions> = {}): TaskBook {
  return new TaskBook('t-1', 'ticket', [], data, { ...DEFAULT_TASK_OPTIONS, ...options });
}

/** A task recorded under the first rules (no `rules` option). */
function firstRulesTask(data: JsonObject): TaskBook {
  const { rules: _current, ...options } = DEFAULT_TASK_OPTIONS;
  return new TaskBook('t-0', 'ticket', [], data, options);
}

/** A run that has its catalog, nothing outstanding, nothing asked from outside. */
function view(overrides: Partial<RunView> = {}): RunView {
  return {
    catalog,
    catalogLoaded: true,
    catalogJustLoaded: false,
    parkedUntil: null,
    now: 1_000,
    parentTold: false,
    arrivals: 0,
    work: { calls: 0, subtasks: 0, blockingSubtasks: 0, pendingBeforeEnd: 0 },
    retry: null,
    reloadRequested: false,
    runIsLong: () => false,
    ...overrides,
  };
}

const work = (counts: Partial<RunView['work']>): RunView['work'] => ({
  calls: 0,
  subtasks: 0,
  blockingSubtasks: 0,
  pendingBeforeEnd: 0,
  ...counts,
});
const call: DeferredCall = { connector: 'mail', method: 'send', args: {}, into: 'sent' };
const stepNames = (move: Move) => (move.kind === 'act' ? move.steps.map((step) => step.name) : null);

describe('nextMove: at the cycle boundary', () => {
  it('takes in arrivals before anything else, even in a terminal task', () => {
    const stopped = task();
    stopped.stop();
    expect(nextMove(task(), view({ arrivals: 2 }))).toEqual({ kind: 'take-arrivals' });
    expect(nextMove(stopped, view({ arrivals: 1 }))).toEqual({ kind: 'take-arrivals' });
  });

  it('ends a terminal task', () => {
    const stopped = task();
    stopped.stop();
    expect(nextMove(stopped, view())).toEqual({ kind: 'end' });
  });

  it('continues as new when the run is long and nothing is in flight or asked for', () => {
    const long = () => true;
    expect(nextMove(task(), view({ runIsLong: long }))).toEqual({ kind: 'continue-as-new' });
    expect(nextMove(task(), view({ runIsLong: long, work: work({ calls: 1 }) })).kind).not.toBe('continue-as-new');
    expect(nextMove(task(), view({ runIsLong: long, work: work({ subtasks: 1 }) })).kind).not.toBe('continue-as-new');
    expect(nextMove(task(), view({ runIsLong: long, reloadRequested: true })).kind).not.toBe('continue-as-new');
    expect(nextMove(task(), view({ runIsLong: long, retry: { kind: 'step', step: 'triage' } })).kind).not.toBe('continue-as-new');
  });

  it('does not ask whether the run is long before a catalog was loaded', () => {
    let asked = false;
    const move = nextMove(task(), view({ catalog: undefined, catalogLoaded: false, runIsLong: () => (asked = true) }));
    expect(move).toEqual({ kind: 'load-catalog' });
    expect(asked).toBe(false);
  });

  it('waits for help in error or attention, telling the parent once per spell under rules 2', () => {
    const failed = task();
    failed.fail({ step: 'triage', message: 'boom', attempts: 3, reason: 'step-failed' });
    expect(nextMove(failed, view())).toEqual({ kind: 'wait-for-help', tellParent: true });
    expect(nextMove(failed, view({ parentTold: true }))).toEqual({ kind: 'wait-for-help', tellParent: false });
    const old = firstRulesTask({ a: 1 });
    old.needAttention();
    expect(nextMove(old, view())).toEqual({ kind: 'wait-for-help', tellParent: false });
  });

  it('waits for the rest of a park; a reload ends it under rules 2', () => {
    expect(nextMove(task(), view({ parkedUntil: 5_000, now: 1_000 }))).toEqual({
      kind: 'wait-for-park',
      remainingMs: 4_000,
      endsOnReload: true,
    });
    expect(nextMove(firstRulesTask({ a: 1 }), view({ parkedUntil: 900, now: 1_000 }))).toEqual({
      kind: 'wait-for-park',
      remainingMs: -100,
      endsOnReload: false,
    });
  });

  it('waits for subtasks it waits for before matching again', () => {
    expect(nextMove(task(), view({ work: work({ blockingSubtasks: 1, subtasks: 1 }) }))).toEqual({
      kind: 'wait-for-arrivals',
      reason: 'subtasks',
    });
  });

  it('loads the catalog at the start of a run and when a reload was asked for', () => {
    expect(nextMove(task(), view({ catalog: undefined, catalogLoaded: false }))).toEqual({ kind: 'load-catalog' });
    expect(nextMove(task(), view({ reloadRequested: true }))).toEqual({ kind: 'load-catalog' });
  });

  it('goes on with a freshly loaded catalog without looking at the boundary again', () => {
    // A reload asked for during the load is taken up at the next boundary, not by loading twice in a row.
    expect(stepNames(nextMove(task(), view({ catalogJustLoaded: true, reloadRequested: true, arrivals: 1 })))).toEqual(['triage']);
    const stopped = task();
    stopped.stop();
    expect(nextMove(stopped, view({ catalogJustLoaded: true }))).toEqual({ kind: 'end' });
  });
});

describe('nextMove: with the catalog at hand', () => {
  it('runs a failed connector call again after a resume', () => {
    expect(nextMove(task(), view({ retry: { kind: 'call', step: 'triage', call } }))).toEqual({ kind: 'retry-call', step: 'triage', call });
  });

  it('finishes once nothing the task started is pending, and waits for it before', () => {
    const finishing = task();
    finishing.finishing = { state: 'done', result: null };
    expect(nextMove(finishing, view())).toEqual({ kind: 'finish' });
    expect(nextMove(finishing, view({ work: work({ calls: 1 }) }))).toEqual({ kind: 'wait-for-arrivals', reason: 'pending-before-end' });
    expect(nextMove(finishing, view({ work: work({ pendingBeforeEnd: 1 }) }))).toEqual({
      kind: 'wait-for-arrivals',
      reason: 'pending-before-end',
    });
  });

  it('runs the listed step of a sequence when it matches, skips it when it does not', () => {
    const listed = task();
    listed.sequence = { steps: ['reply', 'triage'], next: 0, thenCycle: false };
    expect(nextMove(listed, view())).toEqual({ kind: 'skip-listed', step: 'reply', position: { index: 1, of: 2 } });
    listed.advanceSequence();
    const move = nextMove(listed, view());
    expect(stepNames(move)).toEqual(['triage']);
    expect(move).toMatchObject({ position: { index: 2, of: 2 } });
  });

  it("waits for the calls of a sequence's previous step", () => {
    const listed = task();
    listed.sequence = { steps: ['triage'], next: 0, thenCycle: false };
    expect(nextMove(listed, view({ work: work({ calls: 1 }) }))).toEqual({ kind: 'wait-for-arrivals', reason: 'sequence-calls' });
  });

  it('finishes the sequence past its last step', () => {
    const listed = task();
    listed.sequence = { steps: ['triage'], next: 1, thenCycle: true };
    expect(nextMove(listed, view())).toEqual({ kind: 'finish-sequence' });
  });

  it('fails a sequence that names steps the workspace does not have', () => {
    const listed = task();
    listed.sequence = { steps: ['triage', 'escalate', 'archive', 'escalate'], next: 0, thenCycle: false };
    expect(nextMove(listed, view())).toMatchObject({
      kind: 'fail',
      error: { step: 'escalate', reason: 'sequence-invalid', message: expect.stringContaining('escalate, archive') },
    });
  });

  it('acts on the step whose condition matches, and on the step a resume asked to run again', () => {
    expect(stepNames(nextMove(task(), view()))).toEqual(['triage']);
    expect(stepNames(nextMove(task(), view({ retry: { kind: 'step', step: 'reply' } })))).toEqual(['reply']);
  });

  it('acts on a parallel batch when concurrency allows it', () => {
    const both = compileCatalog({ version: 'v2', steps: [catalogStep('a', { x: 1 }, 2), catalogStep('b', { x: 1 }, 1)], connectors: {} });
    expect(stepNames(nextMove(task({ x: 1 }, { concurrency: 2 }), view({ catalog: both })))).toEqual(['a', 'b']);
    expect(stepNames(nextMove(task({ x: 1 }), view({ catalog: both })))).toEqual(['a']);
  });

  it('fails instead of acting past the runaway-loop guard', () => {
    const busy = task({ ticket: { status: 'new' } }, { maxStepRuns: 0 });
    expect(nextMove(busy, view())).toMatchObject({ kind: 'fail', error: { step: 'triage', reason: 'max-step-runs' } });
  });

  it('fails when recognizing takes more than the work limit', () => {
    const heavy = task({ ticket: { status: 'new' } }, { maxRecognizeWork: 0 });
    expect(nextMove(heavy, view())).toMatchObject({ kind: 'fail', error: { step: '', reason: 'work-limit' } });
  });

  it('waits for outstanding work when nothing matches, and needs attention when nothing is pending either', () => {
    const quiet = task({ ticket: { status: 'closed' } });
    expect(nextMove(quiet, view({ work: work({ calls: 1 }) }))).toEqual({ kind: 'wait-for-arrivals', reason: 'outstanding-work' });
    expect(nextMove(quiet, view({ work: work({ subtasks: 1 }) }))).toEqual({ kind: 'wait-for-arrivals', reason: 'outstanding-work' });
    expect(nextMove(quiet, view())).toEqual({ kind: 'attention' });
  });
});

describe('what a move takes with it', () => {
  it('a retry is taken by every move decided with the catalog at hand, and by no boundary move', () => {
    expect(takesRetry({ kind: 'take-arrivals' })).toBe(false);
    expect(takesRetry({ kind: 'wait-for-park', remainingMs: 1, endsOnReload: true })).toBe(false);
    expect(takesRetry({ kind: 'wait-for-arrivals', reason: 'subtasks' })).toBe(false);
    expect(takesRetry({ kind: 'load-catalog' })).toBe(false);
    expect(takesRetry({ kind: 'wait-for-arrivals', reason: 'sequence-calls' })).toBe(true);
    expect(takesRetry({ kind: 'finish' })).toBe(true);
    expect(takesRetry({ kind: 'attention' })).toBe(true);
  });

  it('the parent is told again only after the task ran in between', () => {
    expect(parentToldAfter({ kind: 'wait-for-help', tellParent: true }, false)).toBe(true);
    expect(parentToldAfter({ kind: 'take-arrivals' }, true)).toBe(true);
    expect(parentToldAfter({ kind: 'load-catalog' }, true)).toBe(false);
    expect(parentToldAfter({ kind: 'attention' }, true)).toBe(false);
  });
});
