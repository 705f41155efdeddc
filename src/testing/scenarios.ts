/**
 * Scenarios: a task's input plus what should come of it (its final state, the steps that ran, values in
 * its final data and result), written as YAML or JSON files in a folder (default `<workspace>/scenarios`).
 *
 * Everything here is pure except `loadScenarios`, the one function that reads files. Running scenarios
 * against a real engine is `runScenarios` (run-scenarios.ts); judging a finished task is `evaluateScenario`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import pc from 'picocolors';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { formatJsonPath, isJsonObject, joinJsonPaths, jsonEqual, type JsonObject, type JsonValue } from '../model/json';
import { TASK_STATES, type TaskSnapshot, type TaskState } from '../model/task';

export const SCENARIO_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

/** Steps in this exact order (a list), or a set of steps that each ran at least once, in any order. */
export type ExpectedSteps = string[] | { set: string[] };

export interface Scenario {
  name: string;
  /** The scenario file, relative to the scenarios folder (or as given to `parseScenarioSource`). */
  file: string;
  /** The task's initial data. */
  data: JsonObject;
  /** Not checked when absent. */
  expectedSteps?: ExpectedSteps;
  expectedState: TaskState;
  /** Dot path → expected value, or a type name (String, Number, Boolean, Array, Object; null = null or missing). */
  validateFinalState: Record<string, JsonValue>;
  /** How long the runner waits for the task to settle; the runner's default when absent. */
  timeoutMs?: number;
  /** Data sent to the running task (a JSON Merge Patch), each once the step it names has run, in order. */
  updates?: ScenarioUpdate[];
}

/** New data from outside, sent while the scenario's task runs, once `afterStep` has run. */
export interface ScenarioUpdate {
  afterStep: string;
  data: JsonObject;
}

/** Something wrong with a scenario file; `path` is the field inside it (empty for the file as a whole). */
export interface ScenarioProblem {
  file: string;
  path: string;
  message: string;
}

export interface ScenarioFailure {
  what: string;
  expected: string;
  actual: string;
}

export interface ScenarioResult {
  name: string;
  file: string;
  passed: boolean;
  failures: ScenarioFailure[];
}

/** A scenario as parsed from its file, before `dataFile` has been read. */
export interface ScenarioDraft extends Omit<Scenario, 'data'> {
  data: JsonObject | null;
  /** As written in the file (relative to it); exactly one of `data` and `dataFile` is set. */
  dataFile: string | null;
  /** Field path prefix of this scenario inside its file: `[2]` in a list file, empty otherwise. */
  at: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing (pure)

const DOT_PATH = /^[^.]+(\.[^.]+)*$/;
const TYPE_NAMES = ['String', 'Number', 'Boolean', 'Array', 'Object'] as const;
type TypeName = (typeof TYPE_NAMES)[number];

const STEPS_MESSAGE = 'must be a list of step names (they ran in this order), or { set: [step names] } (each ran, in any order)';

const stepList = z.array(z.string().min(1, 'must be a step name'));

const expectedStepsSchema = z.unknown().superRefine((steps, ctx) => {
  if (Array.isArray(steps)) forward(stepList.safeParse(steps), ctx);
  else if (isJsonObject(steps) && Object.hasOwn(steps, 'set'))
    forward(z.strictObject({ set: stepList.min(1, 'must name at least one step') }).safeParse(steps), ctx);
  else ctx.addIssue({ code: 'custom', message: STEPS_MESSAGE });
});

const validateFinalStateSchema = z
  .record(z.string(), z.json(), { error: 'must map dot paths to expected values' })
  .superRefine((record, ctx) => {
    for (const path of Object.keys(record)) {
      if (!DOT_PATH.test(path))
        ctx.addIssue({ code: 'custom', path: [path], message: 'must be a dot path such as order.status (no empty segments)' });
    }
  });

const scenarioSchema = z.strictObject({
  name: z.string().min(1, 'must be a non-empty string').optional(),
  data: z.record(z.string(), z.json(), { error: 'must be an object (the task data)' }).optional(),
  dataFile: z.string().min(1, 'must be a file path').optional(),
  expectedSteps: expectedStepsSchema.optional(),
  expectedState: z.enum(TASK_STATES).default('done'),
  validateFinalState: validateFinalStateSchema.default({}),
  timeoutMs: z.number().int('must be a whole number of milliseconds').positive('must be more than 0').optional(),
  updates: z
    .array(
      z.strictObject({
        afterStep: z
          .string({ error: 'must name the step after which the data is sent' })
          .min(1, 'must name the step after which the data is sent'),
        data: z.record(z.string(), z.json(), { error: 'must be an object (merged into the task data)' }),
      }),
      { error: 'must be a list of { afterStep: step name, data: { … } }' },
    )
    .optional(),
});

/** Checked on the raw mapping, so it is reported together with every problem of the fields. */
function dataSourceProblem(item: JsonObject): { path: string; message: string } | null {
  const given = (key: string) => Object.hasOwn(item, key) && item[key] !== undefined;
  if (!given('data') && !given('dataFile')) {
    return {
      path: 'data',
      message: 'missing: give the task data as `data:` (an object) or `dataFile:` (a JSON or YAML file, relative to this file)',
    };
  }
  if (given('data') && given('dataFile')) return { path: 'dataFile', message: 'give either `data` or `dataFile`, not both' };
  return null;
}

function forward(result: { success: boolean; error?: z.ZodError }, ctx: z.RefinementCtx): void {
  for (const issue of result.error?.issues ?? []) ctx.addIssue({ code: 'custom', path: [...issue.path], message: issue.message });
}

function isYaml(file: string): boolean {
  const ext = extname(file).toLowerCase();
  return ext === '.yaml' || ext === '.yml';
}

/** Parses a JSON file, or a YAML one by its extension; returns the value or why it cannot. */
function parseText(text: string, file: string): { value: unknown } | { error: string } {
  if (isYaml(file)) {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    const first = doc.errors[0];
    if (first) return { error: `invalid YAML: ${(first.message.split('\n')[0] ?? '').replace(/:$/, '')}` };
    return { value: doc.toJS() as unknown };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { error: `invalid JSON: ${(error as Error).message}` };
  }
}

/**
 * The scenarios in one file's text: one scenario (a mapping) or a list of them. `file` names the file in
 * problems and results and decides the format (`.yaml`/`.yml` YAML, else JSON). A scenario without a
 * name is named after the file (`premium`, or `premium [2]` for the third of a list).
 */
export function parseScenarioSource(text: string, file: string): { drafts: ScenarioDraft[]; problems: ScenarioProblem[] } {
  const parsed = parseText(text, file);
  if ('error' in parsed) return { drafts: [], problems: [{ file, path: '', message: parsed.error }] };
  const value = parsed.value;
  if (value === null || value === undefined)
    return { drafts: [], problems: [{ file, path: '', message: 'the file is empty: write a scenario (a mapping) or a list of them' }] };
  const list = Array.isArray(value);
  const items: unknown[] = list ? value : [value];
  if (list && items.length === 0) return { drafts: [], problems: [{ file, path: '', message: 'the list of scenarios is empty' }] };
  const drafts: ScenarioDraft[] = [];
  const problems: ScenarioProblem[] = [];
  const stem = basename(file, extname(file));
  items.forEach((item, index) => {
    const at = list ? `[${index}]` : '';
    if (!isJsonObject(item)) {
      problems.push({
        file,
        path: at,
        message: 'a scenario must be a mapping with name, data (or dataFile), expectedSteps, expectedState, validateFinalState',
      });
      return;
    }
    const result = scenarioSchema.safeParse(item);
    const source = dataSourceProblem(item);
    if (!result.success || source) {
      for (const issue of result.error?.issues ?? [])
        problems.push({ file, path: joinJsonPaths(at, formatJsonPath(issue.path)), message: issue.message });
      if (source) problems.push({ file, path: joinJsonPaths(at, source.path), message: source.message });
      return;
    }
    const s = result.data;
    drafts.push({
      name: s.name ?? (list ? `${stem} [${index}]` : stem),
      file,
      at,
      data: (s.data as JsonObject | undefined) ?? null,
      dataFile: s.dataFile ?? null,
      ...(s.expectedSteps !== undefined ? { expectedSteps: s.expectedSteps as ExpectedSteps } : {}),
      expectedState: s.expectedState,
      validateFinalState: s.validateFinalState as Record<string, JsonValue>,
      ...(s.timeoutMs !== undefined ? { timeoutMs: s.timeoutMs } : {}),
      ...(s.updates !== undefined ? { updates: s.updates as ScenarioUpdate[] } : {}),
    });
  });
  return { drafts, problems };
}

/** The task data in a data file's text (JSON, or YAML by extension); it must be an object. */
export function parseDataSource(text: string, file: string): { data: JsonObject } | { error: string } {
  const parsed = parseText(text, file);
  if ('error' in parsed) return parsed;
  const checked = z.record(z.string(), z.json()).safeParse(parsed.value);
  if (!checked.success || !isJsonObject(parsed.value)) return { error: 'must hold a JSON object (the task data)' };
  return { data: checked.data as JsonObject };
}

/** Problems for scenario names used more than once (the first use is fine). */
export function duplicateNameProblems(scenarios: readonly Pick<ScenarioDraft, 'name' | 'file' | 'at'>[]): ScenarioProblem[] {
  const seen = new Map<string, string>();
  const problems: ScenarioProblem[] = [];
  for (const s of scenarios) {
    const first = seen.get(s.name);
    if (first !== undefined)
      problems.push({ file: s.file, path: joinJsonPaths(s.at, 'name'), message: `another scenario (in ${first}) is named "${s.name}"` });
    else seen.set(s.name, s.file);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Loading (the only I/O)

/**
 * Reads every `*.yaml|*.yml|*.json` file directly in `dir` (not subfolders) and the data files they
 * name. A file some scenario names as its `dataFile` is data, not a scenario. Problems name the file
 * (relative to `dir`) and the field; the scenarios returned are the ones without problems.
 */
export async function loadScenarios(dir: string): Promise<{ scenarios: Scenario[]; problems: ScenarioProblem[] }> {
  const root = resolve(dir);
  let names: string[];
  try {
    const entries = await readdir(root, { withFileTypes: true });
    names = entries
      .filter((e) => e.isFile() && (SCENARIO_EXTENSIONS as readonly string[]).includes(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? `no scenarios folder at ${root}` : `cannot read the scenarios folder: ${(error as Error).message}`;
    return { scenarios: [], problems: [{ file: root, path: '', message }] };
  }
  const parsed = await Promise.all(
    names.map(async (name) => ({ name, ...parseScenarioSource(await readFile(join(root, name), 'utf8'), name) })),
  );
  const dataFileOf = (draft: ScenarioDraft) => (draft.dataFile === null ? null : resolve(root, dirname(draft.file), draft.dataFile));
  const usedAsData = new Set(parsed.flatMap((p) => p.drafts.map(dataFileOf).filter((f): f is string => f !== null)));
  const files = parsed.filter((p) => !usedAsData.has(join(root, p.name)));
  if (files.length === 0) {
    return {
      scenarios: [],
      problems: [{ file: root, path: '', message: `no scenario files (${SCENARIO_EXTENSIONS.map((e) => `*${e}`).join(', ')}) in ${root}` }],
    };
  }
  const problems: ScenarioProblem[] = files.flatMap((p) => p.problems);
  const drafts = files.flatMap((p) => p.drafts);
  const dataCache = new Map<string, Promise<{ data: JsonObject } | { error: string }>>();
  const readData = (path: string) => {
    let entry = dataCache.get(path);
    if (!entry) {
      entry = readFile(path, 'utf8').then(
        (text) => parseDataSource(text, path),
        (error: NodeJS.ErrnoException) => ({
          error: error.code === 'ENOENT' ? `no such file (looked for ${path})` : `cannot read it: ${error.message}`,
        }),
      );
      dataCache.set(path, entry);
    }
    return entry;
  };
  const resolved = await Promise.all(
    drafts.map(async (draft): Promise<Scenario | null> => {
      const { data, dataFile, at, ...rest } = draft;
      const path = dataFileOf(draft);
      if (path === null) return { ...rest, data: data ?? {} };
      const loaded = await readData(path);
      if ('error' in loaded) {
        problems.push({ file: draft.file, path: joinJsonPaths(at, 'dataFile'), message: `${dataFile}: ${loaded.error}` });
        return null;
      }
      return { ...rest, data: loaded.data };
    }),
  );
  problems.push(...duplicateNameProblems(drafts));
  const broken = new Set(problems.map((p) => p.file));
  // A file with any problem contributes no scenario: half a file running would look like a full pass.
  const scenarios = resolved.filter((s): s is Scenario => s !== null && !broken.has(s.file));
  return { scenarios, problems };
}

// ---------------------------------------------------------------------------------------------
// Evaluation (pure)

const MISSING = '(missing)';
const MAX_VALUE_CHARS = 200;
const MAX_LIST_ITEMS = 12;

function isTypeName(value: JsonValue): value is TypeName {
  return typeof value === 'string' && (TYPE_NAMES as readonly string[]).includes(value);
}

/** As whenflow conditions check types: Number is finite, Object is neither an array nor null. */
const TYPE_CHECKS: Record<TypeName, (v: JsonValue) => boolean> = {
  String: (v) => typeof v === 'string',
  Number: (v) => typeof v === 'number' && Number.isFinite(v),
  Boolean: (v) => typeof v === 'boolean',
  Array: (v) => Array.isArray(v),
  Object: (v) => isJsonObject(v),
};

function showValue(value: JsonValue): string {
  const text = JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}

function showExpected(expected: JsonValue): string {
  return isTypeName(expected) ? expected : showValue(expected);
}

/** The value at a dot path: `result` / `result.…` in the task's result, anything else in its data. */
export function valueAt(
  snapshot: Pick<TaskSnapshot, 'data' | 'result'>,
  path: string,
): { found: true; value: JsonValue } | { found: false } {
  const segments = path.split('.');
  let node: JsonValue = snapshot.data;
  if (segments[0] === 'result') {
    node = snapshot.result;
    segments.shift();
  }
  for (const segment of segments) {
    if (Array.isArray(node) && /^(0|[1-9]\d*)$/.test(segment) && Number(segment) < node.length) node = node[Number(segment)] as JsonValue;
    else if (isJsonObject(node) && Object.hasOwn(node, segment)) node = node[segment] as JsonValue;
    else return { found: false };
  }
  return { found: true, value: node };
}

/** Whether the found value meets the expectation; `null` means null or missing, as in conditions. */
function meets(expected: JsonValue, found: { found: true; value: JsonValue } | { found: false }): boolean {
  if (expected === null) return !found.found || found.value === null;
  if (!found.found) return false;
  if (isTypeName(expected)) return TYPE_CHECKS[expected](found.value);
  return jsonEqual(expected, found.value);
}

/** `[a, b, c]`; a long list shows a window around `at` with counts of what is left out. */
export function compactList(items: readonly string[], at = 0): string {
  if (items.length <= MAX_LIST_ITEMS) return `[${items.join(', ')}]`;
  const window = MAX_LIST_ITEMS - 2;
  const from = Math.max(0, Math.min(at - 3, items.length - window));
  const to = Math.min(items.length, from + window);
  const parts = [
    ...(from > 0 ? [`… ${from} before`] : []),
    ...items.slice(from, to),
    ...(to < items.length ? [`… ${items.length - to} more`] : []),
  ];
  return `[${parts.join(', ')}]`;
}

function describeState(snapshot: Pick<TaskSnapshot, 'state' | 'error'>): string {
  const error = snapshot.error;
  if (!error) return snapshot.state;
  const message = error.message.split('\n')[0] ?? '';
  return `${snapshot.state} (${error.step ? `${error.step}: ` : ''}${message.length > MAX_VALUE_CHARS ? `${message.slice(0, MAX_VALUE_CHARS)}…` : message})`;
}

function stepFailures(expected: ExpectedSteps, ran: string[]): ScenarioFailure[] {
  if (Array.isArray(expected)) {
    const same = expected.length === ran.length && expected.every((step, i) => step === ran[i]);
    if (same) return [];
    let at = 0;
    while (at < expected.length && at < ran.length && expected[at] === ran[at]) at += 1;
    return [{ what: `steps (first difference at index ${at})`, expected: compactList(expected, at), actual: compactList(ran, at) }];
  }
  const distinct = [...new Set(ran)];
  const missing = [...new Set(expected.set)].filter((step) => !distinct.includes(step));
  if (missing.length === 0) return [];
  const set = (items: string[]) => `{${compactList(items).slice(1, -1)}}`;
  return [
    { what: `steps (any order; did not run: ${missing.join(', ')})`, expected: set([...new Set(expected.set)]), actual: set(distinct) },
  ];
}

/** Compares a settled task with what the scenario expects: one failure per mismatch. */
export function evaluateScenario(scenario: Scenario, snapshot: TaskSnapshot): ScenarioResult {
  const failures: ScenarioFailure[] = [];
  if (snapshot.state !== scenario.expectedState)
    failures.push({ what: 'state', expected: scenario.expectedState, actual: describeState(snapshot) });
  if (scenario.expectedSteps !== undefined)
    failures.push(
      ...stepFailures(
        scenario.expectedSteps,
        snapshot.trace.map((entry) => entry.step),
      ),
    );
  for (const [path, expected] of Object.entries(scenario.validateFinalState)) {
    const found = valueAt(snapshot, path);
    if (!meets(expected, found))
      failures.push({ what: path, expected: showExpected(expected), actual: found.found ? showValue(found.value) : MISSING });
  }
  return { name: scenario.name, file: scenario.file, passed: failures.length === 0, failures };
}

// ---------------------------------------------------------------------------------------------
// Report (pure)

export function formatScenarioProblem(problem: ScenarioProblem): string {
  return `${problem.file}${problem.path ? ` (${problem.path})` : ''}: ${problem.message}`;
}

/**
 * ✓/✗ per scenario, each failure indented under its scenario with expected and actual, then
 * `N passed, M failed` (and `, K problems` when problems are given; they are listed first).
 */
export function formatScenarioReport(
  results: readonly ScenarioResult[],
  options: { color: boolean; problems?: readonly ScenarioProblem[] },
): string {
  const c = pc.createColors(options.color);
  const lines: string[] = [];
  const problems = options.problems ?? [];
  for (const problem of problems) lines.push(`${c.red('!')} ${formatScenarioProblem(problem)}`);
  for (const result of results) {
    if (result.passed) {
      lines.push(`${c.green('✓')} ${result.name}`);
      continue;
    }
    lines.push(`${c.red('✗')} ${result.name} ${c.dim(`(${result.file})`)}`);
    for (const failure of result.failures) {
      lines.push(`    ${c.bold(failure.what)}`);
      lines.push(`      expected: ${c.green(failure.expected)}`);
      lines.push(`      actual:   ${c.red(failure.actual)}`);
    }
  }
  const passed = results.filter((r) => r.passed).length;
  const failed = results.length - passed;
  const summary = [
    passed > 0 ? c.green(`${passed} passed`) : `${passed} passed`,
    failed > 0 ? c.red(`${failed} failed`) : `${failed} failed`,
  ];
  if (problems.length > 0) summary.push(c.red(`${problems.length} problem${problems.length === 1 ? '' : 's'}`));
  if (lines.length > 0) lines.push('');
  lines.push(summary.join(', '));
  return lines.join('\n');
}
