import { describe, expect, it } from 'vitest';
import { compareRank, compileCatalog, selectSteps } from '../../src/cycle/select';
import type { JsonObject } from '../../src/model/json';
import type { CatalogStep } from '../../src/model/task';
import { catalogStep as step } from '../support/catalog-steps';

const all = () => true;

function select(steps: CatalogStep[], data: JsonObject, options: { eligible?: (name: string) => boolean; concurrency?: number } = {}) {
  return selectSteps(compileCatalog({ version: 'v1', steps, connectors: {} }), data, options.eligible ?? all, options.concurrency ?? 10);
}

const names = (steps: CatalogStep[]) => steps.map((s) => s.name);

describe('compileCatalog', () => {
  it('keeps the version and each step, with its constraints as a set and a working matcher', () => {
    const a = step('a', { order: { status: 'new', items: Array } });
    const compiled = compileCatalog({ version: 'abc123', steps: [a], connectors: {} });
    expect(compiled.version).toBe('abc123');
    expect(compiled.steps).toHaveLength(1);
    const [entry] = compiled.steps;
    expect(entry?.step).toBe(a);
    expect([...(entry?.constraints ?? [])].sort()).toEqual([...a.condition.constraints].sort());
    expect(entry?.constraints.size).toBe(2);
    expect(entry?.matches({ order: { status: 'new', items: [] } })).toBe(true);
    expect(entry?.matches({ order: { status: 'open', items: [] } })).toBe(false);
  });
});

describe('compareRank', () => {
  it('orders by priority (higher first), then specificity (higher first), then name', () => {
    const steps = [
      step('zeta', { a: 1 }),
      step('late', { f: 6, g: 7, h: 8 }, -1),
      step('alpha', { b: 2 }),
      step('broad', { c: 3, d: 4 }),
      step('urgent', { e: 5 }, 10),
    ];
    expect(names([...steps].sort(compareRank))).toEqual(['urgent', 'broad', 'alpha', 'zeta', 'late']);
  });

  it('priority outranks specificity, specificity outranks name', () => {
    const specific = step('a_specific', { x: 1, y: 2, z: 3 });
    const urgent = step('b_urgent', { w: 1 }, 1);
    expect(compareRank(urgent, specific)).toBeLessThan(0);
    expect(compareRank(specific, urgent)).toBeGreaterThan(0);
    const general = step('a_general', { w: 1 });
    const twoField = step('z_two', { u: 1, v: 2 });
    expect(compareRank(twoField, general)).toBeLessThan(0);
    expect(compareRank(general, twoField)).toBeGreaterThan(0);
  });

  it('names break ties in code-unit order and equal ranks compare as 0', () => {
    const b = step('b', { x: 1 });
    const a = step('a', { y: 1 });
    expect(compareRank(a, b)).toBeLessThan(0);
    expect(compareRank(b, a)).toBeGreaterThan(0);
    expect(compareRank(a, step('a', { z: 1 }))).toBe(0);
  });
});

describe('selectSteps: ranking', () => {
  it('returns the acting candidates in rank order (the merge order)', () => {
    const data = { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8 };
    // Catalog order is deliberately not rank order; no constraint set contains another.
    const steps = [
      step('zeta', { a: 1 }),
      step('late', { f: 6, g: 7, h: 8 }, -1),
      step('alpha', { b: 2 }),
      step('broad', { c: 3, d: 4 }),
      step('urgent', { e: 5 }, 10),
    ];
    const selection = select(steps, data);
    expect(names(selection.run)).toEqual(['urgent', 'broad', 'alpha', 'zeta', 'late']);
    expect(selection.deferred).toEqual([]);
  });

  it('returns the catalog step objects themselves', () => {
    const s = step('only', { a: 1 });
    expect(select([s], { a: 1 }).run[0]).toBe(s);
  });
});

describe('selectSteps: subsumption', () => {
  const one = step('spec_one', { spec: { a: 1 } });
  const two = step('spec_two', { spec: { a: 1, b: 2 } });
  const four = step('spec_four', { spec: { a: 1, b: 2, c: 3, d: 4 } });
  const full = { spec: { a: 1, b: 2, c: 3, d: 4 } };

  it('only the most specific of a chain of strict subsets acts; the others are deferred', () => {
    const selection = select([one, two, four], full);
    expect(names(selection.run)).toEqual(['spec_four']);
    expect(selection.deferred).toEqual(['spec_one', 'spec_two']);
  });

  it('a deferred step acts once the step subsuming it has run (no longer eligible)', () => {
    const ran = new Set(['spec_four']);
    const eligible = (name: string) => !ran.has(name);
    const second = select([one, two, four], full, { eligible });
    expect(names(second.run)).toEqual(['spec_two']);
    expect(second.deferred).toEqual(['spec_one']);
    ran.add('spec_two');
    const third = select([one, two, four], full, { eligible });
    expect(names(third.run)).toEqual(['spec_one']);
    expect(third.deferred).toEqual([]);
  });

  it('a more specific step that does not match does not defer anyone', () => {
    const selection = select([one, two, four], { spec: { a: 1, b: 2 } });
    expect(names(selection.run)).toEqual(['spec_two']);
    expect(selection.deferred).toEqual(['spec_one']);
  });

  it('a subsumed step is deferred even when it has a higher priority', () => {
    const urgentGeneral = step('urgent_general', { spec: { a: 1 } }, 100);
    const selection = select([urgentGeneral, four], full);
    expect(names(selection.run)).toEqual(['spec_four']);
    expect(selection.deferred).toEqual(['urgent_general']);
  });

  it('equal constraint sets are not strict subsets: both run', () => {
    const left = step('twin_left', { spec: { a: 1, b: 2 } });
    const right = step('twin_right', { spec: { b: 2, a: 1 } });
    const selection = select([right, left], full);
    expect(names(selection.run)).toEqual(['twin_left', 'twin_right']);
    expect(selection.deferred).toEqual([]);
  });

  it('overlapping but not nested constraint sets both run', () => {
    const ab = step('ab', { spec: { a: 1, b: 2 } });
    const ac = step('ac', { spec: { a: 1, c: 3 } });
    const selection = select([ab, ac], full);
    expect(names(selection.run)).toEqual(['ab', 'ac']);
    expect(selection.deferred).toEqual([]);
  });

  it('a constraint on the same path with a different value is a different constraint', () => {
    const typeCheck = step('type_check', { spec: { a: Number } });
    const selection = select([typeCheck, two], full);
    expect(names(selection.run)).toEqual(['spec_two', 'type_check']);
    expect(selection.deferred).toEqual([]);
  });
});

describe('selectSteps: eligibility and matching', () => {
  it('skips ineligible steps entirely (neither run nor deferred)', () => {
    const steps = [step('a', { x: 1 }), step('b', { y: 1 }), step('c', { z: 1 })];
    const selection = select(steps, { x: 1, y: 1, z: 1 }, { eligible: (name) => name !== 'b' });
    expect(names(selection.run)).toEqual(['a', 'c']);
    expect(selection.deferred).toEqual([]);
  });

  it('asks eligibility by step name, only of steps whose requirements the data meets', () => {
    const asked: string[] = [];
    select(
      [step('a', { x: 1 }), step('b', { y: 1 })],
      { x: 1 },
      {
        eligible: (name) => {
          asked.push(name);
          return true;
        },
      },
    );
    expect(asked).toEqual(['a']);
  });

  it('an ineligible more specific step does not defer the general one', () => {
    const general = step('general', { spec: { a: 1 } });
    const specific = step('specific', { spec: { a: 1, b: 2 } });
    const selection = select([general, specific], { spec: { a: 1, b: 2 } }, { eligible: (name) => name !== 'specific' });
    expect(names(selection.run)).toEqual(['general']);
    expect(selection.deferred).toEqual([]);
  });

  it('steps whose condition does not match are not candidates', () => {
    const steps = [
      step('new_order', { order: { status: 'new' } }),
      step('open_order', { order: { status: 'open' } }),
      step('anything', {}),
    ];
    const selection = select(steps, { order: { status: 'open' } });
    expect(names(selection.run)).toEqual(['open_order']);
    expect(selection.deferred).toEqual(['anything']);
  });

  it('nothing matches: nothing runs, nothing is deferred', () => {
    const selection = select([step('a', { x: 1 }), step('b', { y: String })], { x: 2, y: 3 });
    expect(selection).toEqual({ run: [], deferred: [] });
  });
});

describe('selectSteps: concurrency bound', () => {
  const steps = [step('d', { w: 1 }), step('c', { x: 1 }), step('b', { y: 1 }, 1), step('a', { z: 1, v: 1 })];
  const data = { v: 1, w: 1, x: 1, y: 1, z: 1 };
  // rank: b (priority 1), a (specificity 2), c, d

  it('runs at most `concurrency` steps, deferring the lowest-ranked', () => {
    const selection = select(steps, data, { concurrency: 2 });
    expect(names(selection.run)).toEqual(['b', 'a']);
    expect(selection.deferred).toEqual(['c', 'd']);
  });

  it('concurrency 1 gives one step per cycle: the highest-ranked', () => {
    const selection = select(steps, data, { concurrency: 1 });
    expect(names(selection.run)).toEqual(['b']);
    expect(selection.deferred).toEqual(['a', 'c', 'd']);
  });

  it('a bound at or above the number of candidates defers nothing', () => {
    expect(names(select(steps, data, { concurrency: 4 }).run)).toEqual(['b', 'a', 'c', 'd']);
    expect(select(steps, data, { concurrency: 4 }).deferred).toEqual([]);
  });

  it('a bound below 1 still runs one step, so a task cannot stall', () => {
    const selection = select(steps, data, { concurrency: 0 });
    expect(names(selection.run)).toEqual(['b']);
    expect(selection.deferred).toEqual(['a', 'c', 'd']);
  });

  it('the deferred list holds subsumed and over-the-bound steps together, sorted by name', () => {
    const mixed = [...steps, step('e_general', { z: 1 })];
    const selection = select(mixed, data, { concurrency: 3 });
    expect(names(selection.run)).toEqual(['b', 'a', 'c']);
    expect(selection.deferred).toEqual(['d', 'e_general']);
  });
});
