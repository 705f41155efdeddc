import { describe, expect, it } from 'vitest';
import { satisfiable } from '../../src/analysis';
import { compileCondition } from '../../src/conditions';
import { attentionReason, explainSteps, firstFailing, suggestKey } from '../../src/explain';
import { walkHistory, type RecordedRun } from '../../src/explain/timeline';
import type { Catalog, StepOutcome } from '../../src/model/task';
import { DEFAULT_TASK_OPTIONS } from '../../src/model/task';
import { parseScenarioSource } from '../../src/testing/scenarios';
import { catalogStep } from '../support/catalog-steps';

const step = catalogStep;

const leavesOf = (condition: object) => {
  const query = compileCondition(condition).query as { $and: { $wf: { path: string[]; test: string; arg: never } }[] };
  return query.$and.map((item) => item.$wf);
};

describe('did you mean', () => {
  it('suggests a key one edit away: added, dropped, changed or two neighbours swapped', () => {
    expect(suggestKey('aproval', ['approval', 'order'])).toBe('approval');
    expect(suggestKey('approvall', ['approval'])).toBe('approval');
    expect(suggestKey('apporval', ['approval'])).toBe('approval');
    expect(suggestKey('status', ['state'])).toBeNull();
  });

  it('names the first failing constraint and the corrected path', () => {
    const miss = firstFailing(compileCondition({ aproval: { approved: true } }), { approval: { approved: true } });
    expect(miss).toEqual({
      count: 1,
      failing: { path: 'aproval.approved', expected: 'true', didYouMean: 'approval', didYouMeanPath: 'approval.approved' },
    });
    expect(firstFailing(compileCondition({ approval: { approved: true } }), { approval: { approved: true } })).toBeNull();
  });
});

describe('explainSteps', () => {
  const catalog: Catalog = {
    version: 'v1',
    connectors: {},
    steps: [
      step('general', { order: { status: String } }),
      step('specific', { order: { status: String, id: Number } }),
      step('done', { order: { status: 'done' } }),
    ],
  };

  it('gives each step its verdict: runs, held by a more specific step, no match', () => {
    const verdicts = explainSteps({ catalog, data: { order: { status: 'open', id: 1 } }, ran: [], concurrency: 1 });
    expect(verdicts.map((v) => [v.step, v.status, v.rank])).toEqual([
      ['general', 'subsumed', 2],
      ['specific', 'runs', 1],
      ['done', 'no-match', null],
    ]);
  });

  it('says which matching steps already ran and which steps came closest', () => {
    const verdicts = explainSteps({ catalog, data: { order: { status: 'open', id: 1 } }, ran: ['general', 'specific'], concurrency: 1 });
    const reason = attentionReason(verdicts);
    expect(reason.alreadyRan).toEqual(['general', 'specific']);
    expect(reason.nearMisses).toEqual([
      { step: 'done', failingCount: 1, failing: { path: 'order.status', expected: '"done"', actual: 'open' } },
    ]);
  });
});

describe('satisfiable', () => {
  it('finds contradictions on one path and accepts constraints that can hold together', () => {
    expect(satisfiable(leavesOf({ amount: { $gt: 1000, $lt: 100 } }))).toEqual({ ok: false, path: ['amount'] });
    expect(satisfiable(leavesOf({ amount: { $gt: 10, $lt: 100 } }))).toEqual({ ok: true });
    expect(satisfiable([...leavesOf({ tier: 'premium' }), ...leavesOf({ tier: { $ne: 'premium' } })])).toEqual({
      ok: false,
      path: ['tier'],
    });
    expect(satisfiable([...leavesOf({ a: String }), ...leavesOf({ a: { b: 1 } })])).toEqual({ ok: false, path: ['a'] });
    expect(satisfiable(leavesOf({ name: /^a/, kind: ['x', 'y'] }))).toEqual({ ok: true });
  });
});

describe('walkHistory', () => {
  const outcome = (patch: StepOutcome['patch'], commands: StepOutcome['commands'] = []): StepOutcome => ({
    patch,
    commands,
    logs: [],
    logsDropped: 0,
    durationMs: 1,
    attempt: 1,
  });
  const catalog: Catalog = { version: 'v1', connectors: {}, steps: [step('a', { n: 0 }), step('b', { n: 1 })] };
  const run: RecordedRun = {
    runId: 'r1',
    input: { name: 't', tags: [], data: { n: 0 }, options: DEFAULT_TASK_OPTIONS },
    facts: [
      { kind: 'catalog', catalog },
      { kind: 'step-scheduled', id: '1', cycle: 1, step: 'a' },
      { kind: 'update', patch: { note: 'during a' } },
      {
        kind: 'step-completed',
        id: '1',
        outcome: outcome(
          [{ op: 'replace', path: '/n', value: 1 }],
          [{ type: 'call', call: { connector: 'c', method: 'm', args: {}, into: 'answer' } }],
        ),
      },
      { kind: 'call-scheduled', id: '2', call: { connector: 'c', method: 'm', args: {}, into: 'answer' } },
      { kind: 'call-completed', id: '2', value: 42 },
      { kind: 'step-scheduled', id: '3', cycle: 2, step: 'b' },
      { kind: 'step-completed', id: '3', outcome: outcome([{ op: 'replace', path: '/n', value: 2 }], [{ type: 'redo' }]) },
    ],
  };

  it('rebuilds each cycle: updates and call results taken in between cycles, eligibility after redo', () => {
    const seen: { cycle: number; before: object; after: object; ranBefore: string[] }[] = [];
    const end = walkHistory([run], (record) => {
      seen.push({ cycle: record.cycle, before: record.before, after: record.after, ranBefore: record.ranBefore });
      return true;
    });
    expect(seen).toEqual([
      { cycle: 1, before: { n: 0 }, after: { n: 1 }, ranBefore: [] },
      { cycle: 2, before: { n: 1, note: 'during a', answer: 42 }, after: { n: 2, note: 'during a', answer: 42 }, ranBefore: ['a'] },
    ]);
    expect(end).toMatchObject({ cycle: 2, data: { n: 2, note: 'during a', answer: 42 }, ran: ['a'] });
  });
});

describe('scenario updates', () => {
  it('parses updates and names a bad one by its field', () => {
    const good = parseScenarioSource('data: { a: 1 }\nupdates: [{ afterStep: s, data: { b: 2 } }]\nexpectedState: waiting\n', 'x.yaml');
    expect(good.drafts[0]).toMatchObject({ updates: [{ afterStep: 's', data: { b: 2 } }], expectedState: 'waiting' });
    const bad = parseScenarioSource('data: { a: 1 }\nupdates: [{ afterStep: s, data: 3 }]\n', 'x.yaml');
    expect(bad.problems).toEqual([{ file: 'x.yaml', path: 'updates[0].data', message: 'must be an object (merged into the task data)' }]);
  });
});
