import { describe, expect, it } from 'vitest';
import { EventLog } from '../../src/cycle/event-log';
import { TaskBook } from '../../src/cycle/task-book';
import { DEFAULT_TASK_OPTIONS } from '../../src/model/task';
import { EVENTS_KEPT } from '../../src/model/defaults';

const fixedClock = () => Date.UTC(2026, 0, 1);

function filled(count: number): EventLog {
  const log = new EventLog(EVENTS_KEPT, fixedClock);
  for (let i = 0; i < count; i++) log.append({ type: 'parked', ms: i });
  return log;
}

describe('EventLog', () => {
  it('numbers events from 1 and stamps them with the clock', () => {
    const log = filled(3);
    const page = log.page(0, 'running');
    expect(page.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(page.events[0]!.at).toBe('2026-01-01T00:00:00.000Z');
    expect(page).toMatchObject({ oldest: 1, next: 4, state: 'running' });
  });

  it('answers from a cursor, one page at a time', () => {
    const log = filled(10);
    expect(log.page(7, 'running').events.map((e) => e.seq)).toEqual([8, 9, 10]);
    expect(log.page(2, 'running', 3).events.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(log.page(10, 'running').events).toEqual([]);
  });

  it('asks for a new run once a full window was recorded in this one', () => {
    expect(filled(EVENTS_KEPT - 1).isFull).toBe(false);
    expect(filled(EVENTS_KEPT).isFull).toBe(true);
  });

  it('carries every event of a run into the next, so that no event is lost between runs', () => {
    const first = filled(EVENTS_KEPT + 50);
    const carried = first.carry();
    expect(carried.events).toHaveLength(EVENTS_KEPT + 50);
    expect(carried.next).toBe(EVENTS_KEPT + 51);

    const second = EventLog.resume(carried, EVENTS_KEPT, fixedClock);
    expect(second.recordedThisRun).toBe(0);
    second.append({ type: 'parked', ms: -1 });
    // The new run drops carried events first, keeping a window, and its own event gets the next number.
    expect(second.page(0, 'running', 100_000).events.at(-1)!.seq).toBe(EVENTS_KEPT + 51);
    expect(second.oldest).toBe(EVENTS_KEPT + 51 + 1 - EVENTS_KEPT);
    // What the next run gets: this run's one event plus older ones up to a window, contiguous.
    const next = second.carry().events.map((e) => e.seq);
    expect(next).toHaveLength(EVENTS_KEPT);
    expect(next.every((seq, i) => i === 0 || seq === next[i - 1]! + 1)).toBe(true);
  });

  it('stays bounded within a run that cannot continue as new', () => {
    const log = filled(10 * EVENTS_KEPT);
    expect(log.page(0, 'running', 100_000).events.length).toBeLessThanOrEqual(4 * EVENTS_KEPT);
    expect(log.page(0, 'running', 100_000).events.at(-1)!.seq).toBe(10 * EVENTS_KEPT);
  });
});

describe('TaskBook events', () => {
  const book = () => new TaskBook('t', 'n', [], { order: { status: 'new' } }, DEFAULT_TASK_OPTIONS);

  it('records every change of state once, and none for a change to the state the task is in', () => {
    const task = book();
    task.startWaiting();
    task.startWaiting();
    task.stopWaiting();
    const changes = task.events.page(0, task.state).events;
    expect(changes.map((e) => e.type === 'state-changed' && `${e.from}>${e.to}`)).toEqual(['running>waiting', 'waiting>running']);
  });

  it('records a cycle: its steps starting, finishing with what they changed, and conflicts', () => {
    const task = book();
    const cycle = task.beginCycle(['a', 'b']);
    task.recordCycle(
      [
        { step: 'a', startedAt: '', attempt: 1, durationMs: 5, logs: [], commands: [] },
        { step: 'b', startedAt: '', attempt: 2, durationMs: 7, logs: [], commands: [] },
      ],
      {
        data: { order: { status: 'paid' } },
        applied: [{ step: 'a', changed: ['/order/status'] }],
        conflicts: [{ paths: ['/order/status'], kept: 'a', dropped: 'b' }],
      },
    );
    const events = task.events.page(0, task.state).events;
    expect(events.map((e) => e.type)).toEqual([
      'cycle-began',
      'step-started',
      'step-started',
      'conflict',
      'step-finished',
      'step-finished',
    ]);
    expect(events[0]).toMatchObject({ cycle, steps: ['a', 'b'] });
    expect(events[4]).toMatchObject({ step: 'a', changed: ['/order/status'], durationMs: 5 });
    expect(events[5]).toMatchObject({ step: 'b', changed: [], attempt: 2 });
  });

  it('records arrivals without the arguments of connector calls', () => {
    const task = book();
    const call = { connector: 'mail', method: 'send', args: { password: 'secret' }, into: 'sent' };
    task.receive({ kind: 'call-result', step: 's', call, value: true });
    task.receive({ kind: 'update', patch: { extra: 1, other: 2 } });
    const events = task.events.page(0, task.state).events;
    expect(events[0]).toEqual(expect.objectContaining({ type: 'call-answered', connector: 'mail', method: 'send', into: 'sent' }));
    expect(JSON.stringify(events)).not.toContain('secret');
    expect(events[1]).toMatchObject({ type: 'data-updated', keys: ['extra', 'other'] });
  });
});

describe('TaskBook sequences', () => {
  const sequenced = (thenCycle: boolean) => {
    const task = new TaskBook('t', 'n', [], { x: 1 }, DEFAULT_TASK_OPTIONS);
    task.sequence = { steps: ['a', 'b'], next: 0, thenCycle };
    return task;
  };

  it('hands out the listed steps in order with their positions', () => {
    const task = sequenced(false);
    expect(task.sequenceStep).toEqual({ name: 'a', position: { index: 1, of: 2 } });
    task.advanceSequence();
    expect(task.sequenceStep).toEqual({ name: 'b', position: { index: 2, of: 2 } });
    task.advanceSequence();
    expect(task.sequenceStep).toBeNull();
  });

  it('ends the task when the list is done, unless the condition cycle takes over', () => {
    const ending = sequenced(false);
    ending.finishSequence();
    // Under rules 2 the end waits for pending work; with none pending, finish() makes it take effect.
    expect(ending.finishing).toEqual({ state: 'done', result: null });
    ending.finish();
    expect(ending.state).toBe('done');
    const continuing = sequenced(true);
    continuing.finishSequence();
    expect(continuing.state).toBe('running');
    expect(continuing.sequence).toBeNull();
  });

  it('carries the sequence and the stream across continue-as-new', () => {
    const task = sequenced(true);
    task.advanceSequence();
    task.startWaiting();
    const resumed = TaskBook.resume('t', 'n', [], DEFAULT_TASK_OPTIONS, task.carry());
    expect(resumed.sequenceStep?.name).toBe('b');
    expect(resumed.state).toBe('waiting');
    expect(resumed.events.page(0, resumed.state).events.map((e) => e.seq)).toEqual([1]);
    resumed.stopWaiting();
    expect(resumed.events.page(1, resumed.state).events[0]).toMatchObject({ seq: 2, type: 'state-changed' });
  });
});
