import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compileCondition,
  ConditionError,
  createMatcher,
  explainMismatch,
  RECOGNIZE_WORK_LIMIT,
  WorkLimitError,
  withWorkLimit,
} from '../../src/conditions';
import { loadStepFiles } from '../../src/steps/step-files';

/** Catastrophic for a backtracking engine: exponential in the length of a near-miss. */
const CATASTROPHIC = /^([A-Z0-9]+-?)+$/;
const NEAR_MISS = `${'A'.repeat(32)}!`;

const problemsOf = (condition: unknown): string[] => {
  try {
    compileCondition(condition);
    return [];
  } catch (error) {
    if (!(error instanceof ConditionError)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
};

describe('conditions run regular expressions in linear time', () => {
  it('a catastrophic pattern on a long near-miss answers false (and true on a match)', () => {
    const matcher = createMatcher(compileCondition({ sku: CATASTROPHIC }));
    expect(matcher({ sku: NEAR_MISS })).toBe(false);
    expect(matcher({ sku: `${'AB-'.repeat(40_000)}C` })).toBe(true);
    expect(explainMismatch(compileCondition({ sku: CATASTROPHIC }), { sku: NEAR_MISS })?.path).toBe('sku');
  });

  it('the same pattern as $regex, in $in, under $not and inside $elemMatch', () => {
    const condition = {
      a: { $regex: CATASTROPHIC.source },
      b: { $in: [CATASTROPHIC, 'x'] },
      c: { $not: CATASTROPHIC },
      d: { $elemMatch: { $regex: CATASTROPHIC } },
    };
    const matcher = createMatcher(compileCondition(condition));
    expect(matcher({ a: NEAR_MISS, b: 'x', c: NEAR_MISS, d: ['AB'] })).toBe(false);
    expect(matcher({ a: 'AB', b: NEAR_MISS, c: NEAR_MISS, d: ['AB'] })).toBe(false);
    expect(matcher({ a: 'AB', b: 'x', c: NEAR_MISS, d: [NEAR_MISS, 'AB-C'] })).toBe(true);
    expect(matcher({ a: 'AB', b: 'AB', c: 'AB', d: ['AB'] })).toBe(false);
  });

  it('flags i, m, s and u keep their meaning', () => {
    expect(createMatcher(compileCondition({ s: /^abc$/i }))({ s: 'ABC' })).toBe(true);
    expect(createMatcher(compileCondition({ s: /^b$/m }))({ s: 'a\nb\nc' })).toBe(true);
    expect(createMatcher(compileCondition({ s: /^b$/ }))({ s: 'a\nb\nc' })).toBe(false);
    expect(createMatcher(compileCondition({ s: /a.c/s }))({ s: 'a\nc' })).toBe(true);
    expect(createMatcher(compileCondition({ s: /a.c/ }))({ s: 'a\nc' })).toBe(false);
    expect(createMatcher(compileCondition({ s: /^\u{1F600}$/u }))({ s: '😀' })).toBe(true);
    expect(createMatcher(compileCondition({ s: { $regex: '^ABC', $options: 'i' } }))({ s: 'abcd' })).toBe(true);
  });

  it.each([
    [{ s: /(a)\1/ }, 's', 'a backreference (\\1)'],
    [{ s: /(?<x>a)\k<x>/ }, 's', 'a named backreference'],
    [{ s: /a(?=b)/ }, 's', 'a lookahead'],
    [{ s: /a(?!b)/ }, 's', 'a negative lookahead'],
    [{ s: /(?<=a)b/ }, 's', 'a lookbehind'],
    [{ s: /(?<!a)b/ }, 's', 'a negative lookbehind'],
    [{ s: { $regex: '(x+)\\1' } }, 's.$regex', 'a backreference (\\1)'],
    [{ s: { $in: ['a', /(?=a)/] } }, 's.$in[1]', 'a lookahead'],
    [{ s: { $not: /(a)\1/ } }, 's.$not', 'a backreference'],
  ])('refuses %o at %s: %s', (condition, path, construct) => {
    const problems = problemsOf(condition);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`${path}: `);
    expect(problems[0]).toContain(construct);
    expect(problems[0]).toContain('linear time');
  });

  it('"(?=" inside a character class is plain characters, and allowed', () => {
    expect(problemsOf({ s: /[(?=]+/ })).toEqual([]);
    expect(createMatcher(compileCondition({ s: /^[(?=]+$/ }))({ s: '(?=' })).toBe(true);
  });
});

describe('step load refuses patterns the linear-time engine cannot run', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whenflow-regexp-'));
    await mkdir(join(dir, 'steps'));
    await writeFile(
      join(dir, 'steps', 'repeated_word.mjs'),
      'export const condition = { text: /\\b(\\w+) \\1\\b/ };\nexport const content = async () => {};\n',
    );
    await writeFile(
      join(dir, 'steps', 'priced.mjs'),
      "export const condition = { price: { $regex: '\\\\d+(?= EUR)' } };\nexport const content = async () => {};\n",
    );
    await writeFile(
      join(dir, 'steps', 'fine.mjs'),
      'export const condition = { sku: /^([A-Z0-9]+-?)+$/ };\nexport const content = async () => {};\n',
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('names the step file, the condition path and the construct', async () => {
    const loaded = await loadStepFiles(dir);
    expect(loaded.catalog.steps.map((s) => s.name)).toEqual(['fine']);
    const byStep = Object.fromEntries(loaded.problems.map((p) => [p.step, p]));
    expect(byStep.repeated_word).toMatchObject({ file: 'steps/repeated_word.mjs', path: 'condition.text' });
    expect(byStep.repeated_word?.message).toContain('a backreference (\\1)');
    expect(byStep.priced).toMatchObject({ file: 'steps/priced.mjs', path: 'condition.price.$regex' });
    expect(byStep.priced?.message).toContain('a lookahead');
  });
});

describe('the work of one recognize phase is bounded', () => {
  const nums = Array.from({ length: 50_000 }, (_, i) => i % 7);

  it('an evaluation past the limit stops with WorkLimitError naming the limit; within it, answers as usual', () => {
    const matcher = createMatcher(compileCondition({ nums: { $elemMatch: { $gt: 100 } } }));
    expect(() => withWorkLimit(10_000, () => matcher({ nums }))).toThrow(WorkLimitError);
    expect(() => withWorkLimit(10_000, () => matcher({ nums }))).toThrow(/more than 10,000 units of work/);
    expect(withWorkLimit(RECOGNIZE_WORK_LIMIT, () => matcher({ nums }))).toBe(false);
    // Outside a bounded evaluation nothing is counted.
    expect(matcher({ nums })).toBe(false);
  });

  it('regular expressions count the characters they read', () => {
    const matcher = createMatcher(compileCondition({ text: /needle/ }));
    const text = 'x'.repeat(1_000_000);
    expect(() => withWorkLimit(50_000, () => matcher({ text }))).toThrow(WorkLimitError);
    expect(withWorkLimit(100_000, () => matcher({ text }))).toBe(false);
  });
});
