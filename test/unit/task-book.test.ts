import { describe, expect, it } from 'vitest';
import { mergePatches, type MergeResult } from '../../src/cycle/merge';
import { TaskBook, TRACE_KEPT, type StepRun } from '../../src/cycle/task-book';
import type { JsonObject } from '../../src/model/json';
import type { StepCommand, TaskError } from '../../src/model/task';
import type { DataPatch } from '../../src/model/patch';

const STARTED = '2025-01-02T03:04:05.000Z';

function book(data: JsonObject = { order: { status: 'new' } }, maxStepRuns = 100): TaskBook {
  return new TaskBook('task-1', 'order', ['shop'], data, { concurrency: 10, maxStepRuns, maxSubtasks: 100, historyLimit: 5000 });
}

interface RunSpec {
  step: string;
  patch?: DataPatch;
  commands?: StepCommand[];
  logs?: StepRun['logs'];
  attempt?: number;
  durationMs?: number;
}

function run(spec: RunSpec): StepRun {
  return {
    step: spec.step,
    startedAt: STARTED,
    attempt: spec.attempt ?? 1,
    durationMs: spec.durationMs ?? 5,
    logs: spec.logs ?? [],
    commands: spec.commands ?? [],
  };
}

/** One cycle as the workflow does it: the runs' patches merged in rank order over the task's data. */
function cycle(task: TaskBook, specs: RunSpec[]): MergeResult {
  const merged = mergePatches(
    task.data,
    specs.map((s) => ({ step: s.step, patch: s.patch ?? [] })),
  );
  task.recordCycle(specs.map(run), merged);
  return merged;
}

const failed = (reason: TaskError['reason'], step = 'charge'): TaskError => ({ step, message: 'boom', attempts: 3, reason });

describe('TaskBook.recordCycle: data, trace, conflicts', () => {
  it('takes the merged data and counts cycles and step runs', () => {
    const task = book({ a: 1 });
    cycle(task, [
      { step: 's1', patch: [{ op: 'replace', path: '/a', value: 2 }] },
      { step: 's2', patch: [{ op: 'add', path: '/b', value: true }] },
    ]);
    expect(task.data).toEqual({ a: 2, b: true });
    expect(task.cycle).toBe(1);
    expect(task.stepRuns).toBe(2);
    cycle(task, [{ step: 's3' }]);
    expect(task.cycle).toBe(2);
    expect(task.stepRuns).toBe(3);
    expect(task.state).toBe('running');
  });

  it('traces each run with its cycle, timing, attempt, logs and the paths merge applied for it', () => {
    const task = book({ order: { status: 'open' } });
    const logs = [{ level: 'log' as const, message: 'charging 5' }];
    cycle(task, [
      {
        step: 'charge',
        attempt: 2,
        durationMs: 17,
        logs,
        patch: [
          { op: 'add', path: '/order/paid', value: true },
          { op: 'add', path: '/order/tx', value: 'tx-1' },
        ],
      },
      { step: 'reserve', patch: [{ op: 'add', path: '/order/reserved', value: true }] },
    ]);
    expect(task.trace).toEqual([
      { step: 'charge', cycle: 1, startedAt: STARTED, durationMs: 17, attempt: 2, changed: ['/order/paid', '/order/tx'], logs },
      { step: 'reserve', cycle: 1, startedAt: STARTED, durationMs: 5, attempt: 1, changed: ['/order/reserved'], logs: [] },
    ]);
    cycle(task, [{ step: 'fulfil', patch: [{ op: 'replace', path: '/order/status', value: 'fulfilled' }] }]);
    expect(task.trace).toHaveLength(3);
    expect(task.trace[2]).toMatchObject({ step: 'fulfil', cycle: 2, changed: ['/order/status'] });
  });

  it('a run whose writes all lost a conflict is traced with no changed paths', () => {
    const task = book({ clash: { go: true } });
    cycle(task, [
      { step: 'clash_high', patch: [{ op: 'add', path: '/clash/winner', value: 'high' }] },
      { step: 'clash_low', patch: [{ op: 'add', path: '/clash/winner', value: 'low' }] },
    ]);
    expect(task.data).toEqual({ clash: { go: true, winner: 'high' } });
    expect(task.trace.map((t) => [t.step, t.changed])).toEqual([
      ['clash_high', ['/clash/winner']],
      ['clash_low', []],
    ]);
  });

  it('records merge conflicts stamped with the cycle they happened in', () => {
    const task = book({ x: { n: 0 }, y: 0 });
    cycle(task, [{ step: 'quiet', patch: [{ op: 'replace', path: '/y', value: 1 }] }]);
    expect(task.conflicts).toEqual([]);
    cycle(task, [
      { step: 'high', patch: [{ op: 'replace', path: '/x/n', value: 1 }] },
      {
        step: 'low',
        patch: [
          { op: 'replace', path: '/x', value: { n: 2 } },
          { op: 'replace', path: '/y', value: 3 },
        ],
      },
    ]);
    expect(task.conflicts).toEqual([{ cycle: 2, paths: ['/x'], kept: 'high', dropped: 'low' }]);
    expect(task.data).toEqual({ x: { n: 1 }, y: 3 });
    cycle(task, [
      { step: 'a', patch: [{ op: 'replace', path: '/y', value: 4 }] },
      { step: 'b', patch: [{ op: 'replace', path: '/y', value: 5 }] },
    ]);
    expect(task.conflicts).toHaveLength(2);
    expect(task.conflicts[1]).toEqual({ cycle: 3, paths: ['/y'], kept: 'a', dropped: 'b' });
  });
});

describe('TaskBook.recordCycle: commands', () => {
  it('complete → done with the result', () => {
    const task = book();
    cycle(task, [{ step: 'finish', commands: [{ type: 'complete', result: { ok: 1 } }] }]);
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ ok: 1 });
    expect(task.terminal).toBe(true);
  });

  it('ignore → ignored, with no result', () => {
    const task = book();
    cycle(task, [{ step: 'spam', commands: [{ type: 'ignore' }] }]);
    expect(task.state).toBe('ignored');
    expect(task.result).toBeNull();
  });

  it('the first terminal command in rank order wins: ignore before complete', () => {
    const task = book();
    cycle(task, [
      { step: 'first', commands: [{ type: 'ignore' }] },
      { step: 'second', commands: [{ type: 'complete', result: 'late' }] },
    ]);
    expect(task.state).toBe('ignored');
    expect(task.result).toBeNull();
  });

  it('the first terminal command in rank order wins: complete before ignore and a second complete', () => {
    const task = book();
    cycle(task, [
      { step: 'first', commands: [{ type: 'complete', result: 1 }] },
      { step: 'second', commands: [{ type: 'ignore' }, { type: 'complete', result: 2 }] },
    ]);
    expect(task.state).toBe('done');
    expect(task.result).toBe(1);
  });

  it('within one step, its first terminal command wins', () => {
    const task = book();
    cycle(task, [
      {
        step: 'twice',
        commands: [
          { type: 'complete', result: 'a' },
          { type: 'complete', result: 'b' },
        ],
      },
    ]);
    expect(task.result).toBe('a');
  });

  it('commands are ignored once the task is terminal (e.g. stopped while the cycle ran)', () => {
    const task = book();
    task.stop();
    cycle(task, [{ step: 'finish', commands: [{ type: 'complete', result: 'x' }] }]);
    expect(task.state).toBe('stopped');
    expect(task.result).toBeNull();

    const done = book();
    cycle(done, [{ step: 'finish', commands: [{ type: 'complete', result: 'first' }] }]);
    cycle(done, [{ step: 'other', commands: [{ type: 'ignore' }] }]);
    expect(done.state).toBe('done');
    expect(done.result).toBe('first');
  });

  it('a step that ran without redo is no longer eligible; other steps stay eligible', () => {
    const task = book();
    expect(task.isEligible('receive')).toBe(true);
    cycle(task, [{ step: 'receive' }]);
    expect(task.isEligible('receive')).toBe(false);
    expect(task.isEligible('charge')).toBe(true);
  });

  it('redo keeps a step eligible, and only that step', () => {
    const task = book();
    cycle(task, [{ step: 'loop', commands: [{ type: 'redo' }] }, { step: 'once' }]);
    expect(task.isEligible('loop')).toBe(true);
    expect(task.isEligible('once')).toBe(false);
    expect(task.state).toBe('running');
    // Next run without redo: now it has run for good.
    cycle(task, [{ step: 'loop' }]);
    expect(task.isEligible('loop')).toBe(false);
  });

  it('isEligible works detached from the book (the workflow passes it as a callback)', () => {
    const task = book();
    const { isEligible } = task;
    cycle(task, [{ step: 'a' }]);
    expect(isEligible('a')).toBe(false);
    expect(isEligible('b')).toBe(true);
  });

  it('data {} → done, with a null result', () => {
    const task = book({ clear: true, other: 1 });
    cycle(task, [
      {
        step: 'clear_all',
        patch: [
          { op: 'remove', path: '/clear' },
          { op: 'remove', path: '/other' },
        ],
      },
    ]);
    expect(task.data).toEqual({});
    expect(task.state).toBe('done');
    expect(task.result).toBeNull();
  });

  it('data {} with an explicit complete keeps that result', () => {
    const task = book({ a: 1 });
    cycle(task, [{ step: 'clear', patch: [{ op: 'remove', path: '/a' }], commands: [{ type: 'complete', result: 'bye' }] }]);
    expect(task.state).toBe('done');
    expect(task.result).toBe('bye');
  });

  it('data {} does not override a terminal state: ignore stays ignored, stopped stays stopped', () => {
    const ignored = book({ a: 1 });
    cycle(ignored, [{ step: 'spam', patch: [{ op: 'remove', path: '/a' }], commands: [{ type: 'ignore' }] }]);
    expect(ignored.data).toEqual({});
    expect(ignored.state).toBe('ignored');

    const stopped = book({ a: 1 });
    stopped.stop();
    cycle(stopped, [{ step: 'clear', patch: [{ op: 'remove', path: '/a' }] }]);
    expect(stopped.data).toEqual({});
    expect(stopped.state).toBe('stopped');
  });

  it('data that is not empty does not finish the task', () => {
    const task = book({ a: 1, b: 2 });
    cycle(task, [{ step: 'trim', patch: [{ op: 'remove', path: '/a' }] }]);
    expect(task.data).toEqual({ b: 2 });
    expect(task.state).toBe('running');
  });
});

describe('TaskBook: fail, revive and the step budget', () => {
  it('fail moves to error and keeps the error', () => {
    const task = book();
    const error = failed('step-failed');
    task.fail(error);
    expect(task.state).toBe('error');
    expect(task.error).toEqual(error);
    expect(task.needsOutsideHelp).toBe(true);
    expect(task.terminal).toBe(false);
  });

  it('revive after step-failed returns the failed step, makes it eligible again and clears the error', () => {
    const task = book();
    cycle(task, [{ step: 'charge' }, { step: 'reserve' }]);
    expect(task.isEligible('charge')).toBe(false);
    task.fail(failed('step-failed', 'charge'));
    expect(task.revive()).toEqual({ kind: 'step', step: 'charge' });
    expect(task.state).toBe('running');
    expect(task.error).toBeNull();
    expect(task.needsOutsideHelp).toBe(false);
    expect(task.isEligible('charge')).toBe(true);
    expect(task.isEligible('reserve')).toBe(false);
  });

  it('revive after catalog-invalid or max-step-runs returns null', () => {
    const a = book();
    a.fail(failed('catalog-invalid', ''));
    expect(a.revive()).toBeNull();
    expect(a.state).toBe('running');
    expect(a.error).toBeNull();

    const b = book();
    b.fail(failed('max-step-runs', 'runaway'));
    expect(b.revive()).toBeNull();
    expect(b.state).toBe('running');
  });

  it('revive from attention (no error) returns null and runs again', () => {
    const task = book();
    task.needAttention();
    expect(task.needsOutsideHelp).toBe(true);
    expect(task.revive()).toBeNull();
    expect(task.state).toBe('running');
  });

  it('exceedsStepBudget counts executions against maxStepRuns', () => {
    const task = book({ a: 1 }, 3);
    expect(task.exceedsStepBudget(3)).toBe(false);
    expect(task.exceedsStepBudget(4)).toBe(true);
    cycle(task, [{ step: 'x' }, { step: 'y' }]);
    expect(task.exceedsStepBudget(1)).toBe(false);
    expect(task.exceedsStepBudget(2)).toBe(true);
  });

  it('revive after max-step-runs grants a new budget', () => {
    const task = book({ a: 1 }, 3);
    cycle(task, [{ step: 'x', commands: [{ type: 'redo' }] }, { step: 'y' }, { step: 'z' }]);
    expect(task.exceedsStepBudget(1)).toBe(true);
    task.fail(failed('max-step-runs', 'x'));
    task.revive();
    expect(task.stepRuns).toBe(3);
    expect(task.exceedsStepBudget(3)).toBe(false);
    expect(task.exceedsStepBudget(4)).toBe(true);
    cycle(task, [{ step: 'x' }]);
    expect(task.exceedsStepBudget(2)).toBe(false);
    expect(task.exceedsStepBudget(3)).toBe(true);
  });

  it('revive after a step failure does not grant a new budget', () => {
    const task = book({ a: 1 }, 2);
    cycle(task, [{ step: 'x' }, { step: 'y' }]);
    task.fail(failed('step-failed', 'x'));
    task.revive();
    expect(task.exceedsStepBudget(1)).toBe(true);
  });
});

describe('TaskBook.snapshot', () => {
  it('has exactly the documented shape and values', () => {
    const task = book({ order: { status: 'new' } });
    task.catalogVersion = 'cafe0123';
    cycle(task, [
      { step: 'hi', patch: [{ op: 'add', path: '/n', value: 1 }] },
      { step: 'lo', patch: [{ op: 'add', path: '/n', value: 2 }], commands: [{ type: 'complete', result: { r: true } }] },
    ]);
    const snapshot = task.snapshot();
    expect(Object.keys(snapshot).sort()).toEqual(
      [
        'catalogVersion',
        'conflicts',
        'cycle',
        'data',
        'error',
        'name',
        'result',
        'state',
        'stepRuns',
        'tags',
        'taskId',
        'trace',
        'traceOffset',
      ].sort(),
    );
    expect(snapshot).toEqual({
      taskId: 'task-1',
      name: 'order',
      tags: ['shop'],
      state: 'done',
      data: { order: { status: 'new' }, n: 1 },
      result: { r: true },
      cycle: 1,
      stepRuns: 2,
      catalogVersion: 'cafe0123',
      traceOffset: 0,
      trace: [
        { step: 'hi', cycle: 1, startedAt: STARTED, durationMs: 5, attempt: 1, changed: ['/n'], logs: [] },
        { step: 'lo', cycle: 1, startedAt: STARTED, durationMs: 5, attempt: 1, changed: [], logs: [] },
      ],
      conflicts: [{ cycle: 1, paths: ['/n'], kept: 'hi', dropped: 'lo' }],
      error: null,
    });
    // Plain JSON: it travels as a query result.
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it('carries the error of a failed task', () => {
    const task = book();
    task.fail(failed('step-failed', 'charge'));
    const snapshot = task.snapshot();
    expect(snapshot.state).toBe('error');
    expect(snapshot.error).toEqual(failed('step-failed', 'charge'));
  });

  it('copies the tags, so changing the snapshot does not change the task', () => {
    const task = book();
    const snapshot = task.snapshot();
    snapshot.tags.push('extra');
    expect(task.tags).toEqual(['shop']);
    expect(task.snapshot().tags).toEqual(['shop']);
  });
});

describe('TaskBook: carrying a long task into its next run', () => {
  it('keeps the most recent trace entries, counts the older ones, and restores everything else', () => {
    const task = book({ n: 0 });
    for (let i = 0; i < TRACE_KEPT + 5; i++)
      cycle(task, [{ step: i % 2 ? 'odd' : 'even', commands: i === TRACE_KEPT + 4 ? [{ type: 'redo' }] : [] }]);
    task.fail({ step: 'odd', message: 'x', attempts: 1, reason: 'step-failed' });
    const carried = JSON.parse(JSON.stringify(task.carry())) as ReturnType<TaskBook['carry']>;
    expect(carried.trace).toHaveLength(TRACE_KEPT);
    expect(carried.traceOffset).toBe(5);
    const next = TaskBook.resume('task-1', 'order', ['shop'], task.options, carried);
    expect(next.snapshot()).toEqual({ ...task.snapshot(), trace: carried.trace, traceOffset: 5 });
    // The last step asked to run again; the other one stays ineligible.
    expect(next.isEligible('even')).toBe(true);
    expect(next.isEligible('odd')).toBe(false);
    expect(next.snapshot().trace.at(-1)).toMatchObject({ step: 'even', cycle: TRACE_KEPT + 5 });
  });
});
