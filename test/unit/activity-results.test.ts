import { describe, expect, it } from 'vitest';
import { compileCondition } from '../../src/conditions';
import { checkCatalog, checkStepOutcome, checkSubtaskEnd } from '../../src/model/activity-results';
import { DEFAULT_STEP_RETRY } from '../../src/model/defaults';

const outcome = {
  patch: [
    { op: 'add', path: '/a', value: 1 },
    { op: 'remove', path: '/b' },
  ],
  commands: [
    { type: 'complete', result: { ok: true } },
    { type: 'park', ms: 1000 },
    { type: 'call', call: { connector: 'crm', method: 'find', args: {}, into: 'contact' } },
  ],
  logs: [{ level: 'log', message: 'hi' }],
  logsDropped: 0,
  durationMs: 12,
  attempt: 1,
};

const catalog = {
  version: 'abc',
  steps: [
    {
      name: 'greet',
      file: 'steps/greet.mjs',
      condition: compileCondition({ a: 1 }),
      priority: 0,
      timeoutMs: 60_000,
      retry: DEFAULT_STEP_RETRY,
    },
  ],
  connectors: {},
};

describe('the workflow checks what activities return', () => {
  it('accepts well-formed outcomes, catalogs and subtask ends, and returns the very value', () => {
    const checked = checkStepOutcome(outcome);
    expect(checked).toEqual({ ok: true, value: outcome });
    expect(checked.ok && checked.value).toBe(outcome);
    expect(checkCatalog(catalog).ok).toBe(true);
    expect(checkSubtaskEnd({ state: 'done', result: 5, taskId: 't' }).ok).toBe(true);
  });

  it.each([
    [null, '(the result)'],
    [{ ...outcome, patch: 'all of it' }, 'patch'],
    [{ ...outcome, patch: [{ op: 'move', path: '/a' }] }, 'patch[0].op'],
    [{ ...outcome, commands: [{ type: 'park', ms: 'soon' }] }, 'commands[0].ms'],
    [{ ...outcome, commands: [{ type: 'explode' }] }, 'commands[0].type'],
    [{ ...outcome, logs: [{ level: 'shout', message: 'x' }] }, 'logs[0].level'],
    [{ ...outcome, attempt: 0 }, 'attempt'],
  ])('refuses the step outcome %o, naming %s', (value, path) => {
    const checked = checkStepOutcome(value);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.problem.startsWith(`${path}: `)).toBe(true);
  });

  it('refuses a malformed catalog or subtask end, naming where', () => {
    const badCatalog = checkCatalog({ ...catalog, steps: [{ ...catalog.steps[0], condition: { query: 'x' } }] });
    expect(badCatalog.ok).toBe(false);
    if (!badCatalog.ok) expect(badCatalog.problem).toContain('steps[0].condition.query');
    const badEnd = checkSubtaskEnd({ state: 'exploded' });
    expect(badEnd.ok).toBe(false);
    if (!badEnd.ok) expect(badEnd.problem).toContain('state');
  });

  it('never throws, even when reading the value throws', () => {
    const hostile = Object.defineProperty({ ...outcome }, 'patch', {
      enumerable: true,
      get: () => {
        throw new Error('boom');
      },
    });
    expect(checkStepOutcome(hostile)).toEqual({ ok: false, problem: 'boom' });
  });
});
