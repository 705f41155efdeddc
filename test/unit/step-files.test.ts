import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRetryPolicy } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMatcher } from '../../src/conditions';
import { executeStep } from '../../src/runtime/execute';
import { formatProblem, loadStepFile, loadStepFiles, stepsDir, StepFileError, type StepProblem } from '../../src/steps/step-files';
import { resolveStepOptions, stepOptionsSchema } from '../../src/steps/options';
import { DEFAULT_STEP_RETRY, DEFAULT_STEP_TIMEOUT_MS } from '../../src/model/defaults';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SAMPLE = ROOT; // the sample order workspace: ROOT/steps
const BROKEN = join(ROOT, 'test/workspaces/broken');

const SAMPLE_STEPS = [
  'charge_payment',
  'complete_order',
  'fulfil_order',
  'notify_customer',
  'pick_item',
  'pick_items',
  'receive_order',
  'ship_express',
  'ship_standard',
];

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'whenflow-load-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let counter = 0;
/** A fresh workspace under the scratch folder, optionally a copy of an existing one, plus extra step files. */
async function workspace(options: { copyOf?: string; files?: Record<string, string> } = {}): Promise<string> {
  const dir = join(scratch, `ws${counter++}`);
  await mkdir(join(dir, 'steps'), { recursive: true });
  if (options.copyOf) await cp(stepsDir(options.copyOf), join(dir, 'steps'), { recursive: true });
  for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(join(dir, 'steps', name), text);
  return dir;
}

/** A step file with the given options literal and a trivial condition/content. */
const withOptions = (options: string) =>
  `export const condition = { a: 1 };\nexport const options = ${options};\nexport const content = async () => {};\n`;

const problemsOf = (problems: StepProblem[], step: string) => problems.filter((p) => p.step === step);

describe('loadStepFiles: the sample workspace', () => {
  it('loads 9 steps, sorted by name, with no problems', async () => {
    const loaded = await loadStepFiles(SAMPLE);
    expect(loaded.problems).toEqual([]);
    expect(loaded.catalog.steps.map((s) => s.name)).toEqual(SAMPLE_STEPS);
    expect([...loaded.steps.keys()]).toEqual(SAMPLE_STEPS);
    expect(loaded.catalog.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('complete_order.ts: TypeScript loads, its options apply (timeout "10s" → 10000 ms)', async () => {
    const loaded = await loadStepFiles(SAMPLE);
    const step = loaded.catalog.steps.find((s) => s.name === 'complete_order');
    expect(step).toMatchObject({
      name: 'complete_order',
      file: 'steps/complete_order.ts',
      timeoutMs: 10_000,
      priority: 0,
      retry: DEFAULT_STEP_RETRY,
    });
    const other = loaded.catalog.steps.find((s) => s.name === 'charge_payment');
    expect(other).toMatchObject({ file: 'steps/charge_payment.mjs', timeoutMs: DEFAULT_STEP_TIMEOUT_MS });
  });

  it('catalog steps are plain JSON (no content) and conditions match as written', async () => {
    const loaded = await loadStepFiles(SAMPLE);
    const receive = loaded.catalog.steps.find((s) => s.name === 'receive_order');
    expect(receive).toBeDefined();
    expect(Object.keys(receive ?? {})).not.toContain('content');
    expect(JSON.parse(JSON.stringify(loaded.catalog))).toEqual(loaded.catalog);
    const matches = createMatcher(receive!.condition);
    expect(matches({ order: { status: 'new', items: [] } })).toBe(true);
    expect(matches({ order: { status: 'open', items: [] } })).toBe(false);
    expect(typeof loaded.steps.get('receive_order')?.content).toBe('function');
  });

  it('loaded content runs as a step', async () => {
    const loaded = await loadStepFiles(SAMPLE);
    const complete = loaded.steps.get('complete_order');
    const outcome = await executeStep({
      step: 'complete_order',
      taskId: 't',
      attempt: 1,
      data: { order: { id: 'o7', status: 'fulfilled', shipping: { method: 'express', days: 1 } } },
      content: complete!.content,
    });
    expect(outcome.commands).toEqual([{ type: 'complete', result: { orderId: 'o7', shipping: 'express', arrivesInDays: 1 } }]);
  });
});

describe('loadStepFiles: the broken workspace', () => {
  let problems: StepProblem[];
  let loaded: Awaited<ReturnType<typeof loadStepFiles>>;

  beforeAll(async () => {
    loaded = await loadStepFiles(BROKEN);
    problems = loaded.problems;
  });

  it('`fine` still loads, and only `fine`', () => {
    expect([...loaded.steps.keys()]).toEqual(['fine']);
    expect(loaded.catalog.steps.map((s) => s.name)).toEqual(['fine']);
    expect(problemsOf(problems, 'fine')).toEqual([]);
  });

  it('reports every problem: one per bad file, two each for bad_condition and bad_options', () => {
    const count = (step: string) => problemsOf(problems, step).length;
    expect(count('no_content')).toBe(1);
    expect(count('reads_data')).toBe(1);
    expect(count('syntax_error')).toBe(1);
    expect(count('bad_condition')).toBe(2);
    expect(count('bad_options')).toBe(2);
    expect(problems).toHaveLength(7);
  });

  it('every problem names its file relative to the workspace', () => {
    for (const p of problems) expect(p.file).toBe(`steps/${p.step}.mjs`);
  });

  it('no_content: says content must be an async function', () => {
    const [p] = problemsOf(problems, 'no_content');
    expect(p?.message).toMatch(/`content` must be exported as an async function/);
    expect(p?.path).toBeUndefined();
  });

  it('bad_condition: both problems, located in the condition', () => {
    const found = problemsOf(problems, 'bad_condition');
    expect(found.map((p) => p.path).sort()).toEqual(['condition.order.total', 'condition.tags.$foo']);
    expect(found.find((p) => p.path === 'condition.order.total')?.message).toMatch(/function/);
    expect(found.find((p) => p.path === 'condition.tags.$foo')?.message).toMatch(/unknown operator \$foo/);
  });

  it('bad_options: both problems, located in the options', () => {
    const found = problemsOf(problems, 'bad_options');
    expect(found.map((p) => p.path).sort()).toEqual(['options.priority', 'options.retry.maximumAttempts']);
  });

  it('reads_data: explains that data is not available at load and shows the $data reference form', () => {
    const [p] = problemsOf(problems, 'reads_data');
    expect(p?.message).toContain('`data`');
    expect(p?.message).toContain('$data');
  });

  it('syntax_error: says where, in the one load-failure format (line, column, the line itself)', () => {
    const [p] = problemsOf(problems, 'syntax_error');
    expect(p?.message).toMatch(/^cannot load: syntax error: .+ at line 2, column 8 — export const content = async \(\) => \{\};$/);
  });

  it('problems format as readable lines and StepFileError lists all of them', () => {
    const located = problems.find((p) => p.path === 'options.priority');
    expect(formatProblem(located!)).toBe(`  steps/bad_options.mjs (options.priority): ${located!.message}`);
    const error = new StepFileError(problems);
    expect(error.message).toMatch(/^7 problems in the workspace:\n/);
    expect(error.message.split('\n')).toHaveLength(8);
  });
});

describe('loadStepFiles: no steps folder', () => {
  it('is one problem naming the missing folder, with an empty catalog', async () => {
    const missing = join(scratch, 'does-not-exist');
    const loaded = await loadStepFiles(missing);
    expect(loaded.problems).toHaveLength(1);
    expect(loaded.problems[0]?.message).toContain(join(missing, 'steps'));
    expect(loaded.catalog.steps).toEqual([]);
    expect(loaded.steps.size).toBe(0);
  });
});

describe('loadStepFiles / loadStepFile: versions and reloading', () => {
  it('the catalog version depends on file names and contents only, not on where the workspace is', async () => {
    const original = await loadStepFiles(SAMPLE);
    const copy = await loadStepFiles(await workspace({ copyOf: SAMPLE }));
    expect(copy.problems).toEqual([]);
    expect(copy.catalog.version).toBe(original.catalog.version);
  });

  it('editing a step file changes the version, and the new condition and content are loaded', async () => {
    const dir = await workspace({ copyOf: SAMPLE });
    const file = join(dir, 'steps', 'receive_order.mjs');
    const before = await loadStepFiles(dir);
    const originalText = await readFile(file, 'utf8');

    const edited = originalText
      .replace("status: 'new'", "status: 'fresh'")
      .replace("data.order.status = 'open'", "data.order.status = 'opened'");
    expect(edited).not.toBe(originalText);
    await writeFile(file, edited);

    const after = await loadStepFiles(dir);
    expect(after.problems).toEqual([]);
    expect(after.catalog.version).not.toBe(before.catalog.version);

    const single = await loadStepFile(dir, file);
    expect(single.step?.content).toBe(after.steps.get('receive_order')?.content);
    const matches = createMatcher(single.step!.condition);
    expect(matches({ order: { status: 'fresh', items: [] } })).toBe(true);
    expect(matches({ order: { status: 'new', items: [] } })).toBe(false);

    // The edited content is what runs now.
    const outcome = await executeStep({
      step: 'receive_order',
      taskId: 't',
      attempt: 1,
      data: { order: { id: 'o1', status: 'fresh', items: [] } },
      content: single.step!.content,
    });
    expect(outcome.patch).toContainEqual({ op: 'replace', path: '/order/status', value: 'opened' });

    // Putting the old text back gives the old version again: the version is a hash of the files.
    await writeFile(file, originalText);
    const restored = await loadStepFiles(dir);
    expect(restored.catalog.version).toBe(before.catalog.version);
  });

  it('an unchanged file is not imported again: the identical module (content function) comes back', async () => {
    const dir = await workspace({ copyOf: SAMPLE });
    const first = await loadStepFiles(dir);
    await writeFile(
      join(dir, 'steps', 'ship_express.mjs'),
      `${await readFile(join(dir, 'steps', 'ship_express.mjs'), 'utf8')}\n// touched\n`,
    );
    const second = await loadStepFiles(dir);
    expect(second.steps.get('charge_payment')?.content).toBe(first.steps.get('charge_payment')?.content);
    expect(second.steps.get('complete_order')?.content).toBe(first.steps.get('complete_order')?.content);
    expect(second.steps.get('ship_express')?.content).not.toBe(first.steps.get('ship_express')?.content);

    const file = join(dir, 'steps', 'fulfil_order.mjs');
    const a = await loadStepFile(dir, file);
    const b = await loadStepFile(dir, file);
    expect(b).toBe(a);
    expect(b.step?.content).toBe(first.steps.get('fulfil_order')?.content);
  });

  it('adding a step file changes the version and the catalog', async () => {
    const dir = await workspace({ copyOf: SAMPLE });
    const before = await loadStepFiles(dir);
    await writeFile(
      join(dir, 'steps', 'audit_order.js'),
      'export const condition = { order: Object };\nexport const content = async () => {};\n',
    );
    const after = await loadStepFiles(dir);
    expect(after.catalog.version).not.toBe(before.catalog.version);
    expect(after.catalog.steps.map((s) => s.name)).toEqual(['audit_order', ...SAMPLE_STEPS]);
  });

  it('renaming a step file (same content) changes the version: the step name is part of the catalog', async () => {
    const body = 'export const condition = { a: 1 };\nexport const content = async () => {};\n';
    const first = await loadStepFiles(await workspace({ files: { 'old_name.mjs': body } }));
    const renamed = await loadStepFiles(await workspace({ files: { 'new_name.mjs': body } }));
    expect(renamed.catalog.steps.map((s) => s.name)).toEqual(['new_name']);
    expect(renamed.catalog.version).not.toBe(first.catalog.version);
  });

  it('only .js, .mjs and .ts files are steps (not .d.ts, .json or other files)', async () => {
    const dir = await workspace({
      files: {
        'real.mjs': 'export const condition = { a: 1 };\nexport const content = async () => {};\n',
        'types.d.ts': 'export declare const x: number;\n',
        'notes.json': '{}',
        'readme.md': '# hi',
      },
    });
    const loaded = await loadStepFiles(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.catalog.steps.map((s) => s.name)).toEqual(['real']);
  });

  it('two files with the same step name: the second is a problem', async () => {
    const body = 'export const condition = { a: 1 };\nexport const content = async () => {};\n';
    const dir = await workspace({ files: { 'dup.js': body, 'dup.mjs': body } });
    const loaded = await loadStepFiles(dir);
    expect(loaded.catalog.steps.map((s) => s.file)).toEqual(['steps/dup.js']);
    expect(loaded.problems).toHaveLength(1);
    expect(loaded.problems[0]).toMatchObject({ file: 'steps/dup.mjs', step: 'dup' });
    expect(loaded.problems[0]?.message).toContain('steps/dup.js');
  });

  it('a file without a condition export is a problem', async () => {
    const dir = await workspace({ files: { 'nocond.mjs': 'export const content = async () => {};\n' } });
    const loaded = await loadStepFiles(dir);
    expect(loaded.steps.size).toBe(0);
    expect(loaded.problems).toHaveLength(1);
    expect(loaded.problems[0]?.message).toMatch(/missing export `condition`/);
  });
});

describe('step options', () => {
  const parse = (options: unknown) => stepOptionsSchema.safeParse(options);
  const resolved = (options: unknown) => {
    const result = parse(options);
    if (!result.success) throw new Error(result.error.message);
    return resolveStepOptions(result.data, { retry: DEFAULT_STEP_RETRY, timeoutMs: DEFAULT_STEP_TIMEOUT_MS });
  };

  it('defaults: priority 0, the default timeout and retry policy', () => {
    expect(resolved({})).toEqual({ priority: 0, timeoutMs: DEFAULT_STEP_TIMEOUT_MS, retry: DEFAULT_STEP_RETRY, local: false });
    expect(DEFAULT_STEP_RETRY).toEqual({ initialIntervalMs: 1000, backoffCoefficient: 2, maximumAttempts: 3, nonRetryableErrorTypes: [] });
  });

  it('local: the step says, else the workspace default, else regular', () => {
    const withDefault = (options: unknown, local: boolean) => {
      const result = parse(options);
      if (!result.success) throw new Error(result.error.message);
      return resolveStepOptions(result.data, { retry: DEFAULT_STEP_RETRY, timeoutMs: DEFAULT_STEP_TIMEOUT_MS, local }).local;
    };
    expect(resolved({ local: true }).local).toBe(true);
    expect(resolved({ timeout: '1s', local: false }).local).toBe(false);
    expect(resolved({ timeout: '1s' }).local).toBe(false);
    expect(withDefault({ timeout: '1s' }, false)).toBe(false);
    expect(withDefault({}, true)).toBe(true);
    expect(withDefault({ local: false }, true)).toBe(false);
    expect(parse({ local: 'yes' }).error?.issues.map((i) => i.path.join('.'))).toEqual(['local']);
  });

  it('durations: strings like "2s" parse to milliseconds, numbers are milliseconds', () => {
    expect(resolved({ timeout: '2s' }).timeoutMs).toBe(2000);
    expect(resolved({ timeout: '1.5h' }).timeoutMs).toBe(5_400_000);
    expect(resolved({ timeout: 250 }).timeoutMs).toBe(250);
    const retry = resolved({
      retry: {
        initialInterval: '500ms',
        maximumInterval: '2m',
        maximumAttempts: 5,
        backoffCoefficient: 3,
        nonRetryableErrorTypes: ['Nope'],
      },
    }).retry;
    expect(retry).toEqual({
      initialIntervalMs: 500,
      backoffCoefficient: 3,
      maximumIntervalMs: 120_000,
      maximumAttempts: 5,
      nonRetryableErrorTypes: ['Nope'],
    });
  });

  it('partial retry options keep the defaults for the rest (and no maximumInterval unless given)', () => {
    const retry = resolved({ retry: { maximumAttempts: 1 } }).retry;
    expect(retry).toEqual({ ...DEFAULT_STEP_RETRY, maximumAttempts: 1 });
    expect('maximumIntervalMs' in retry).toBe(false);
  });

  it.each([['soon'], ['2 fortnights'], ['-5s'], [''], [' ']])('bad duration string %j is a problem', (value) => {
    const result = parse({ timeout: value });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['timeout']);
  });

  it('negative and non-finite numbers are not durations', () => {
    expect(parse({ timeout: -1 }).success).toBe(false);
    expect(parse({ retry: { initialInterval: Number.POSITIVE_INFINITY } }).success).toBe(false);
  });

  it('unknown option keys are problems, at the top level and inside retry', () => {
    const top = parse({ priorty: 1 });
    expect(top.success).toBe(false);
    expect(top.error?.issues[0]?.message).toContain('priorty');
    const inner = parse({ retry: { attempts: 3 } });
    expect(inner.success).toBe(false);
    expect(inner.error?.issues[0]?.path).toEqual(['retry']);
    expect(inner.error?.issues[0]?.message).toContain('attempts');
  });

  it('in step files: durations resolve, bad durations and unknown keys are located problems', async () => {
    const dir = await workspace({
      files: {
        'timed.mjs': withOptions(`{ timeout: '2s', priority: 3, retry: { initialInterval: '1.5s' } }`),
        'bad_duration.mjs': withOptions(`{ timeout: 'soon' }`),
        'unknown_key.mjs': withOptions(`{ priorty: 1, retry: { attempts: 2 } }`),
      },
    });
    const loaded = await loadStepFiles(dir);
    expect([...loaded.steps.keys()]).toEqual(['timed']);
    expect(loaded.steps.get('timed')).toMatchObject({
      timeoutMs: 2000,
      priority: 3,
      retry: { ...DEFAULT_STEP_RETRY, initialIntervalMs: 1500 },
    });

    const bad = problemsOf(loaded.problems, 'bad_duration');
    expect(bad).toHaveLength(1);
    expect(bad[0]?.path).toBe('options.timeout');
    expect(bad[0]?.message).toContain('"soon" is not a duration');

    const unknown = problemsOf(loaded.problems, 'unknown_key');
    expect(unknown.map((p) => p.path).sort()).toEqual(['options', 'options.retry']);
    expect(unknown.find((p) => p.path === 'options')?.message).toContain('priorty');
    expect(unknown.find((p) => p.path === 'options.retry')?.message).toContain('attempts');
  });
});

/**
 * SRC BUG (fails until src/steps/options.ts is fixed): the options schema accepts retry policies that
 * Temporal's compileRetryPolicy rejects. The step file loads without a problem, and the error only
 * surfaces when the workflow schedules the step's activity (the task goes to `error` with
 * "RetryPolicy.… cannot be …" as if the step had failed, with no attempt ever made).
 */
describe('step options the loader accepts are valid for Temporal', () => {
  const temporalRetry = (retry: ReturnType<typeof resolveStepOptions>['retry']) => ({
    initialInterval: retry.initialIntervalMs,
    backoffCoefficient: retry.backoffCoefficient,
    ...(retry.maximumIntervalMs === undefined ? {} : { maximumInterval: retry.maximumIntervalMs }),
    maximumAttempts: retry.maximumAttempts,
    nonRetryableErrorTypes: retry.nonRetryableErrorTypes,
  });

  it('a valid retry policy compiles (control case)', () => {
    const parsed = stepOptionsSchema.parse({ retry: { initialInterval: '1s', maximumInterval: '1m', maximumAttempts: 4 } });
    const { retry } = resolveStepOptions(parsed, { retry: DEFAULT_STEP_RETRY, timeoutMs: DEFAULT_STEP_TIMEOUT_MS });
    expect(() => compileRetryPolicy(temporalRetry(retry))).not.toThrow();
  });

  it.each([
    ['initialInterval 0', { retry: { initialInterval: 0 } }],
    ['maximumInterval 0', { retry: { maximumInterval: 0 } }],
    ['maximumInterval below initialInterval', { retry: { initialInterval: '10s', maximumInterval: '1s' } }],
    ['maximumInterval below the default initialInterval (1s)', { retry: { maximumInterval: 500 } }],
  ])('%s is a load problem, not a runtime failure', (_label, options) => {
    const parsed = stepOptionsSchema.safeParse(options);
    if (parsed.success) {
      // Accepted: then Temporal must accept it too.
      const { retry } = resolveStepOptions(parsed.data, { retry: DEFAULT_STEP_RETRY, timeoutMs: DEFAULT_STEP_TIMEOUT_MS });
      expect(() => compileRetryPolicy(temporalRetry(retry))).not.toThrow();
    }
    expect(parsed.success).toBe(false);
  });
});
