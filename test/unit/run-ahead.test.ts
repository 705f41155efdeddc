import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RECOGNIZE_WORK_LIMIT, WorkLimitError, withWorkLimit } from '../../src/conditions/work-meter';
import { longestLocalTimeoutMs, mayRunAhead, RUN_AHEAD_MAX_STEPS, RUN_AHEAD_WINDOW_MS, stepAhead } from '../../src/cycle/run-ahead';
import { compileCatalog, selectSteps, type CompiledCatalog } from '../../src/cycle/select';
import { INLINE_DATA_LIMIT } from '../../src/cycle/step-data';
import type { JsonObject, JsonValue } from '../../src/model/json';
import type { CatalogStep } from '../../src/model/task';
import { catalogStep } from '../support/catalog-steps';
import { pick, rng, type Rand } from '../support/random';

/** A catalog step run as a local activity. */
const local = (name: string, condition: object, priority = 0): CatalogStep => ({ ...catalogStep(name, condition, priority), local: true });
/** A catalog step run as a regular activity (`local: false`, as a step file saying so gives). */
const regular = (name: string, condition: object, priority = 0): CatalogStep => ({
  ...catalogStep(name, condition, priority),
  local: false,
});

const catalogOf = (...steps: CatalogStep[]): CompiledCatalog => compileCatalog({ version: 'v1', steps, connectors: {} });
const none: ReadonlySet<string> = new Set();
const ahead = (catalog: CompiledCatalog, data: JsonObject, ran: ReadonlySet<string> = none) =>
  stepAhead(catalog, data, ran, RECOGNIZE_WORK_LIMIT)?.name ?? null;

describe('the bounds', () => {
  it('a run ahead is bounded to 20 further steps within 1 s of the activity start', () => {
    expect(RUN_AHEAD_MAX_STEPS).toBe(20);
    expect(RUN_AHEAD_WINDOW_MS).toBe(1000);
  });
});

describe('mayRunAhead', () => {
  it('allows a task that runs one step at a time, chosen by conditions, with step runs to spare', () => {
    expect(mayRunAhead({ concurrency: 1, hasSequence: false, remainingStepRuns: 2 })).toBe(true);
    expect(mayRunAhead({ concurrency: 1, hasSequence: false, remainingStepRuns: 1000 })).toBe(true);
  });

  it('refuses parallel batches', () => {
    expect(mayRunAhead({ concurrency: 2, hasSequence: false, remainingStepRuns: 100 })).toBe(false);
    expect(mayRunAhead({ concurrency: 10, hasSequence: false, remainingStepRuns: 100 })).toBe(false);
  });

  it('refuses a task that follows an explicit sequence', () => {
    expect(mayRunAhead({ concurrency: 1, hasSequence: true, remainingStepRuns: 100 })).toBe(false);
  });

  it('refuses when at most the step itself may still run (the runaway-loop guard)', () => {
    expect(mayRunAhead({ concurrency: 1, hasSequence: false, remainingStepRuns: 1 })).toBe(false);
    expect(mayRunAhead({ concurrency: 1, hasSequence: false, remainingStepRuns: 0 })).toBe(false);
    expect(mayRunAhead({ concurrency: 1, hasSequence: false, remainingStepRuns: -3 })).toBe(false);
  });
});

describe('longestLocalTimeoutMs', () => {
  it('is 0 for a catalog without local steps', () => {
    expect(longestLocalTimeoutMs(catalogOf())).toBe(0);
    expect(longestLocalTimeoutMs(catalogOf(catalogStep('plain', { a: 1 }), regular('forced', { b: 1 })))).toBe(0);
  });

  it('is the longest timeout among the local steps only', () => {
    const catalog = catalogOf(
      { ...local('short', { a: 1 }), timeoutMs: 2_000 },
      { ...local('longest_local', { b: 1 }), timeoutMs: 7_500 },
      { ...regular('regular_longer', { c: 1 }), timeoutMs: 60_000 },
      { ...catalogStep('unmarked_longer', { d: 1 }), timeoutMs: 90_000 },
      { ...local('middle', { e: 1 }), timeoutMs: 5_000 },
    );
    expect(longestLocalTimeoutMs(catalog)).toBe(7_500);
  });
});

describe('stepAhead', () => {
  it('chooses the rank-first matching step, as selectSteps with concurrency 1 does', () => {
    const catalog = catalogOf(
      local('zeta', { order: { status: 'new' } }),
      local('alpha', { order: { status: 'new' } }),
      local('specific', { order: { status: 'new' }, region: 'eu' }),
      local('urgent', { flag: true }, 5),
      local('other', { order: { status: 'paid' } }),
    );
    const all: JsonObject = { order: { status: 'new' }, region: 'eu', flag: true };
    // Priority first.
    expect(ahead(catalog, all)).toBe('urgent');
    // Then specificity: the more specific step is chosen, and the general ones it subsumes wait.
    expect(ahead(catalog, all, new Set(['urgent']))).toBe('specific');
    // Equal rank: by name.
    expect(ahead(catalog, { order: { status: 'new' } })).toBe('alpha');
    expect(ahead(catalog, { order: { status: 'new' } }, new Set(['alpha']))).toBe('zeta');
    expect(ahead(catalog, { order: { status: 'paid' } })).toBe('other');
    for (const data of [all, { order: { status: 'new' }, region: 'eu' }, { order: { status: 'new' } }, { flag: true }] as JsonObject[]) {
      const chosen = stepAhead(catalog, data, none, RECOGNIZE_WORK_LIMIT);
      expect(chosen).not.toBeNull();
      expect(chosen).toBe(selectSteps(catalog, data, () => true, 1).run[0]);
    }
  });

  it('returns the catalog step itself, with its file, timeout and retry policy', () => {
    const step = { ...local('quick', { a: 1 }), timeoutMs: 3_000 };
    expect(stepAhead(catalogOf(step), { a: 1 }, none, RECOGNIZE_WORK_LIMIT)).toBe(step);
  });

  it('never chooses a step that already ran', () => {
    const catalog = catalogOf(local('first', { a: 1 }, 2), local('second', { a: 1 }, 1), local('third', { a: 1 }));
    expect(ahead(catalog, { a: 1 })).toBe('first');
    expect(ahead(catalog, { a: 1 }, new Set(['first']))).toBe('second');
    expect(ahead(catalog, { a: 1 }, new Set(['first', 'second']))).toBe('third');
    expect(ahead(catalog, { a: 1 }, new Set(['first', 'second', 'third']))).toBeNull();
    // Steps that ran but do not match anyway change nothing.
    expect(ahead(catalog, { a: 1 }, new Set(['unrelated']))).toBe('first');
  });

  it('is null when the step the cycle chooses is not local, even if a local one matches after it', () => {
    const catalog = catalogOf(regular('regular_first', { a: 1 }, 1), local('local_second', { a: 1 }));
    expect(ahead(catalog, { a: 1 })).toBeNull();
    // Once the regular step ran, the local one is the cycle's choice.
    expect(ahead(catalog, { a: 1 }, new Set(['regular_first']))).toBe('local_second');
    // A step that does not say `local` is regular.
    expect(ahead(catalogOf(catalogStep('unmarked', { a: 1 }, 1), local('l', { a: 1 })), { a: 1 })).toBeNull();
  });

  it('is null when a more specific regular step holds a general local one back', () => {
    const catalog = catalogOf(local('general', { a: 1 }, 3), regular('specific', { a: 1, b: 2 }));
    expect(ahead(catalog, { a: 1, b: 2 })).toBeNull();
    expect(ahead(catalog, { a: 1, b: 3 })).toBe('general');
  });

  it('is null when nothing matches', () => {
    const catalog = catalogOf(local('a_step', { a: 1 }), local('b_step', { b: String }));
    expect(ahead(catalog, { a: 2, b: 3 })).toBeNull();
    expect(ahead(catalog, { c: true })).toBeNull();
    expect(ahead(catalogOf(), { a: 1 })).toBeNull();
  });

  it('is null for empty data (the task is done), even when a step would match it', () => {
    const catalog = catalogOf(local('anything', {}), local('absent', { a: null }));
    expect(selectSteps(catalog, {}, () => true, 1).run).toHaveLength(1);
    expect(ahead(catalog, {})).toBeNull();
    expect(ahead(catalog, { b: 1 })).toBe('absent');
  });

  it('is null when the data goes by reference: its JSON is longer than INLINE_DATA_LIMIT', () => {
    const catalog = catalogOf(local('reader', { s: String }));
    // `{"s":"…"}`: 8 characters around the string.
    const sized = (chars: number): JsonObject => ({ s: 'x'.repeat(chars - 8) });
    expect(JSON.stringify(sized(INLINE_DATA_LIMIT)).length).toBe(INLINE_DATA_LIMIT);
    expect(ahead(catalog, sized(INLINE_DATA_LIMIT))).toBe('reader');
    expect(ahead(catalog, sized(INLINE_DATA_LIMIT + 1))).toBeNull();
    expect(ahead(catalog, sized(INLINE_DATA_LIMIT * 3))).toBeNull();
    // Characters, not bytes: a string of two-byte characters of the limit's length still goes inline.
    expect(ahead(catalog, { s: 'é'.repeat(INLINE_DATA_LIMIT - 8) })).toBe('reader');
  });

  it('is null, without throwing, when the recognize phase passes its work limit', () => {
    const catalog = catalogOf(local('wide', { a: 1, b: 2, c: 3 }), local('narrow', { a: 1 }));
    const data: JsonObject = { a: 1, b: 2, c: 3 };
    // The same selection does pass a limit of 1 unit: the limit is what makes the difference.
    expect(() => withWorkLimit(1, () => selectSteps(catalog, data, () => true, 1))).toThrow(WorkLimitError);
    expect(stepAhead(catalog, data, none, 1)).toBeNull();
    expect(stepAhead(catalog, data, none, 0)).toBeNull();
    expect(stepAhead(catalog, data, none, RECOGNIZE_WORK_LIMIT)?.name).toBe('wide');
  });

  it('leaves its arguments as they were', () => {
    const catalog = catalogOf(local('a_step', { a: 1 }), local('b_step', { a: 1 }));
    const data: JsonObject = { a: 1, nested: { list: [1, 2] } };
    const copy = structuredClone(data);
    const ran = new Set(['a_step']);
    expect(ahead(catalog, data, ran)).toBe('b_step');
    expect(data).toEqual(copy);
    expect([...ran]).toEqual(['a_step']);
  });
});

// -------------------------------------------------------------------------------------------------
// Property: running ahead chooses what the workflow's cycle chooses

const KEYS = ['a', 'b', 'c', 'd'] as const;
const VALUES: JsonValue[] = [0, 1, 2, 'x', 'y', '', true, false, null];
const PATTERNS: unknown[] = [0, 1, 2, 'x', 'y', true, null, String, Number, Boolean, { $exists: true }, { $gt: 0 }, { $in: [1, 'x'] }];

/** A condition over one to three keys, sometimes nested one level. */
function randomCondition(r: Rand): Record<string, unknown> {
  const condition: Record<string, unknown> = {};
  const count = r() < 0.15 ? 0 : 1 + Math.floor(r() * 3);
  for (let i = 0; i < count; i++) {
    const key = pick(r, KEYS);
    condition[key] = r() < 0.2 ? { [pick(r, KEYS)]: pick(r, PATTERNS) } : pick(r, PATTERNS);
  }
  return condition;
}

function randomValue(r: Rand): JsonValue {
  const roll = r();
  if (roll < 0.75) return pick(r, VALUES);
  if (roll < 0.9) return { [pick(r, KEYS)]: pick(r, VALUES) };
  return [pick(r, VALUES)];
}

function randomData(r: Rand): JsonObject {
  const data: JsonObject = {};
  for (const key of KEYS) if (r() < 0.6) data[key] = randomValue(r);
  return data;
}

interface RandomCatalog {
  catalog: CompiledCatalog;
  /** What each step writes when it runs: a key and a value (undefined deletes the key). */
  writes: Map<string, { key: string; value: JsonValue | undefined }>;
}

function randomCatalog(r: Rand): RandomCatalog {
  const steps: CatalogStep[] = [];
  const writes = new Map<string, { key: string; value: JsonValue | undefined }>();
  const count = 1 + Math.floor(r() * 8);
  for (let i = 0; i < count; i++) {
    const name = `s${i}`;
    const base = catalogStep(name, randomCondition(r), Math.floor(r() * 3));
    const roll = r();
    steps.push(roll < 0.65 ? { ...base, local: true } : roll < 0.85 ? { ...base, local: false } : base);
    writes.set(name, { key: pick(r, KEYS), value: r() < 0.1 ? undefined : randomValue(r) });
  }
  return { catalog: compileCatalog({ version: 'v', steps, connectors: {} }), writes };
}

/** What a step's run leaves: the data with its write applied (a new object, as a patch gives). */
function afterRun(data: JsonObject, write: { key: string; value: JsonValue | undefined }): JsonObject {
  const next = { ...data };
  if (write.value === undefined) delete next[write.key];
  else next[write.key] = write.value;
  return next;
}

describe('running ahead agrees with the cycle (property)', () => {
  it('stepAhead is the step selectSteps(…, 1) runs next whenever that step is local (and data is inline), else null', () => {
    let chosen = 0;
    let notLocal = 0;
    let nothing = 0;
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const { catalog } = randomCatalog(r);
        for (let round = 0; round < 8; round++) {
          const data = randomData(r);
          const ran = new Set(catalog.steps.filter(() => r() < 0.25).map(({ step }) => step.name));
          const next = selectSteps(catalog, data, (name) => !ran.has(name), 1).run[0];
          const got = stepAhead(catalog, data, ran, RECOGNIZE_WORK_LIMIT);
          if (next?.local === true && Object.keys(data).length > 0) {
            expect(got).toBe(next);
            chosen++;
          } else {
            expect(got).toBeNull();
            if (next) notLocal++;
            else nothing++;
          }
        }
      }),
      { numRuns: 800 },
    );
    // The generators must reach every branch often.
    expect(chosen).toBeGreaterThan(300);
    expect(notLocal).toBeGreaterThan(100);
    expect(nothing).toBeGreaterThan(100);
  });

  it('a chain run ahead is the sequence of steps the cycles choose, one cycle per step, up to the first regular step', () => {
    let longest = 0;
    let chains = 0;
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const { catalog, writes } = randomCatalog(r);
        const start = randomData(r);
        const first = selectSteps(catalog, start, () => true, 1).run[0];
        if (first?.local !== true || Object.keys(start).length === 0) return;
        // The activity: its own step, then stepAhead on the data each step leaves.
        const activity: string[] = [];
        {
          const ran = new Set([first.name]);
          let data = afterRun(start, writes.get(first.name)!);
          for (
            let step = stepAhead(catalog, data, ran, RECOGNIZE_WORK_LIMIT);
            step;
            step = stepAhead(catalog, data, ran, RECOGNIZE_WORK_LIMIT)
          ) {
            activity.push(step.name);
            ran.add(step.name);
            data = afterRun(data, writes.get(step.name)!);
          }
        }
        // The workflow: a cycle per step, each choosing among the steps not run yet.
        const cycles: string[] = [];
        {
          const ran = new Set([first.name]);
          let data = afterRun(start, writes.get(first.name)!);
          for (;;) {
            if (Object.keys(data).length === 0) break;
            const next = selectSteps(catalog, data, (name) => !ran.has(name), 1).run[0];
            if (next?.local !== true) break;
            cycles.push(next.name);
            ran.add(next.name);
            data = afterRun(data, writes.get(next.name)!);
          }
        }
        expect(activity).toEqual(cycles);
        // Every step runs once at most.
        expect(new Set(activity).size).toBe(activity.length);
        expect(activity).not.toContain(first.name);
        longest = Math.max(longest, activity.length);
        if (activity.length > 0) chains++;
      }),
      { numRuns: 1500 },
    );
    expect(chains).toBeGreaterThan(100);
    expect(longest).toBeGreaterThanOrEqual(3);
  });
});
