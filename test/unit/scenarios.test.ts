import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/connectors';
import type { JsonObject } from '../../src/model/json';
import { isSealed } from '../../src/model/sealed';
import type { TaskSnapshot } from '../../src/model/task';
import { StepFileError } from '../../src/steps/step-files';
import { evaluateScenario, formatScenarioReport, loadScenarios, runStep, type Scenario, type ScenarioResult } from '../../src/testing';
import { compactList, parseScenarioSource } from '../../src/testing/scenarios';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const STEPS = join(ROOT, 'steps');
const sampleOrder = (): JsonObject => JSON.parse(readFileSync(join(ROOT, 'samples', 'order.json'), 'utf8')) as JsonObject;

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'whenflow-scenarios-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let counter = 0;
/** A fresh folder with these files (paths may have subfolders). */
async function folder(files: Record<string, string>): Promise<string> {
  const dir = join(scratch, `f${counter++}`);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A hand-made settled task: `steps` become its trace, in order. */
function snapshot(over: Partial<Omit<TaskSnapshot, 'trace' | 'traceOffset'>> & { steps?: string[] } = {}): TaskSnapshot {
  const { steps = [], ...rest } = over;
  return {
    taskId: 'task-1',
    name: 'task',
    tags: [],
    state: 'done',
    data: {},
    result: null,
    cycle: steps.length,
    stepRuns: steps.length,
    catalogVersion: 'v1',
    traceOffset: 0,
    trace: steps.map((step, i) => ({
      step,
      cycle: i + 1,
      startedAt: '2024-01-01T00:00:00.000Z',
      durationMs: 1,
      attempt: 1,
      changed: [],
      logs: [],
    })),
    conflicts: [],
    error: null,
    ...rest,
  };
}

const scenario = (over: Partial<Scenario> = {}): Scenario => ({
  name: 's',
  file: 's.yaml',
  data: {},
  expectedState: 'done',
  validateFinalState: {},
  ...over,
});

describe('loadScenarios', () => {
  it('reads YAML and JSON files, one scenario or a list, with defaults, in file-name order', async () => {
    const dir = await folder({
      'b.json': JSON.stringify({
        name: 'json one',
        data: { n: 1 },
        expectedSteps: { set: ['x', 'y'] },
        expectedState: 'attention',
        timeoutMs: 5000,
      }),
      'a.yaml':
        'name: yaml one\ndata: { order: { id: A-1 } }\nexpectedSteps: [x, y]\nvalidateFinalState:\n  order.status: fulfilled\n  order.shipping.method: String\n  order.note: null\n  result.price: 10\n',
      'c.yml': '- name: first of list\n  data: { n: 1 }\n- data: { n: 2 }\n',
      'notes.txt': 'not a scenario',
    });
    const { scenarios, problems } = await loadScenarios(dir);
    expect(problems).toEqual([]);
    expect(scenarios).toEqual([
      {
        name: 'yaml one',
        file: 'a.yaml',
        data: { order: { id: 'A-1' } },
        expectedSteps: ['x', 'y'],
        expectedState: 'done',
        validateFinalState: { 'order.status': 'fulfilled', 'order.shipping.method': 'String', 'order.note': null, 'result.price': 10 },
      },
      {
        name: 'json one',
        file: 'b.json',
        data: { n: 1 },
        expectedSteps: { set: ['x', 'y'] },
        expectedState: 'attention',
        validateFinalState: {},
        timeoutMs: 5000,
      },
      { name: 'first of list', file: 'c.yml', data: { n: 1 }, expectedState: 'done', validateFinalState: {} },
      { name: 'c [1]', file: 'c.yml', data: { n: 2 }, expectedState: 'done', validateFinalState: {} },
    ]);
  });

  it('reads dataFile relative to the scenario file (JSON or YAML); a file used as data is not a scenario', async () => {
    const dir = await folder({
      'scenarios/one.yaml': 'name: from sample\ndataFile: ../samples/order.json\n',
      'scenarios/two.yaml': 'name: from yaml data\ndataFile: extra.yaml\n',
      'scenarios/extra.yaml': 'order: { id: Y-1 }\n',
      'samples/order.json': JSON.stringify(sampleOrder()),
    });
    const { scenarios, problems } = await loadScenarios(join(dir, 'scenarios'));
    expect(problems).toEqual([]);
    expect(scenarios.map((s) => [s.name, s.data])).toEqual([
      ['from sample', sampleOrder()],
      ['from yaml data', { order: { id: 'Y-1' } }],
    ]);
  });

  it('names the file and the field of every problem, and loads no scenario of a file with problems', async () => {
    const dir = await folder({
      'bad.yaml': [
        'name: bad',
        'data: [1, 2]',
        'expectedSteps: fulfil_order',
        'expectedState: finished',
        'timeoutMs: -5',
        'validateFinalState: { "order..status": 1 }',
        'colour: red',
      ].join('\n'),
      'list.yaml':
        '- name: fine\n  data: {}\n- name: no data\n- name: both\n  data: {}\n  dataFile: x.json\n- 42\n- name: steps\n  data: {}\n  expectedSteps: [ok, 7]\n- name: set\n  data: {}\n  expectedSteps: { set: [] }\n- name: two problems\n  timeoutMs: 1.5\n',
      'good.json': JSON.stringify({ name: 'good', data: {} }),
      'missing-data.yaml': 'name: missing data file\ndataFile: nowhere.json\n',
      'not-object.yaml': 'name: array data\ndataFile: arr.json\n',
      'arr.json': '[1, 2]',
      'zdup.json': JSON.stringify({ name: 'good', data: {} }),
      'empty.yaml': '',
      'broken.json': '{ "name": ',
      'broken.yaml': 'name: [unclosed\n',
    });
    const { scenarios, problems } = await loadScenarios(dir);
    expect(scenarios.map((s) => [s.name, s.file])).toEqual([['good', 'good.json']]);
    const byFile = (file: string) => problems.filter((p) => p.file === file).map((p) => [p.path, p.message]);
    // Every problem of the file at once, field by field.
    expect(byFile('bad.yaml')).toEqual([
      ['data', 'must be an object (the task data)'],
      ['expectedSteps', 'must be a list of step names (they ran in this order), or { set: [step names] } (each ran, in any order)'],
      ['expectedState', 'Invalid option: expected one of "running"|"waiting"|"attention"|"error"|"done"|"ignored"|"stopped"|"expired"'],
      ['validateFinalState["order..status"]', 'must be a dot path such as order.status (no empty segments)'],
      ['timeoutMs', 'must be more than 0'],
      ['', 'Unrecognized key: "colour"'],
    ]);
    expect(byFile('list.yaml')).toEqual([
      ['[1].data', 'missing: give the task data as `data:` (an object) or `dataFile:` (a JSON or YAML file, relative to this file)'],
      ['[2].dataFile', 'give either `data` or `dataFile`, not both'],
      ['[3]', 'a scenario must be a mapping with name, data (or dataFile), expectedSteps, expectedState, validateFinalState'],
      ['[4].expectedSteps[1]', 'Invalid input: expected string, received number'],
      ['[5].expectedSteps.set', 'must name at least one step'],
      ['[6].timeoutMs', 'must be a whole number of milliseconds'],
      ['[6].data', 'missing: give the task data as `data:` (an object) or `dataFile:` (a JSON or YAML file, relative to this file)'],
    ]);
    expect(byFile('missing-data.yaml')).toEqual([['dataFile', `nowhere.json: no such file (looked for ${join(dir, 'nowhere.json')})`]]);
    expect(byFile('not-object.yaml')).toEqual([['dataFile', 'arr.json: must hold a JSON object (the task data)']]);
    expect(byFile('zdup.json')).toEqual([['name', 'another scenario (in good.json) is named "good"']]);
    expect(byFile('empty.yaml')).toEqual([['', 'the file is empty: write a scenario (a mapping) or a list of them']]);
    expect(byFile('broken.json')).toHaveLength(1);
    expect(byFile('broken.json')[0]?.[1]).toMatch(/^invalid JSON: /);
    expect(byFile('broken.yaml')).toEqual([
      ['', 'invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1'],
    ]);
    // arr.json is somebody's dataFile: not reported as a scenario file.
    expect(byFile('arr.json')).toEqual([]);
  });

  it('checks expectedSteps shape and validateFinalState paths', () => {
    const { drafts, problems } = parseScenarioSource(
      'data: {}\nexpectedSteps: { order: [a] }\nvalidateFinalState: { "a..b": 1, ".x": 2, "ok.path": 3 }\n',
      'shape.yaml',
    );
    expect(drafts).toEqual([]);
    expect(problems).toEqual([
      {
        file: 'shape.yaml',
        path: 'expectedSteps',
        message: 'must be a list of step names (they ran in this order), or { set: [step names] } (each ran, in any order)',
      },
      { file: 'shape.yaml', path: 'validateFinalState["a..b"]', message: 'must be a dot path such as order.status (no empty segments)' },
      { file: 'shape.yaml', path: 'validateFinalState[".x"]', message: 'must be a dot path such as order.status (no empty segments)' },
    ]);
  });

  it('reports a missing folder and a folder without scenario files', async () => {
    const nowhere = join(scratch, 'does-not-exist');
    expect(await loadScenarios(nowhere)).toEqual({
      scenarios: [],
      problems: [{ file: nowhere, path: '', message: `no scenarios folder at ${nowhere}` }],
    });
    const empty = await folder({ 'readme.md': '# nothing' });
    expect(await loadScenarios(empty)).toEqual({
      scenarios: [],
      problems: [{ file: empty, path: '', message: `no scenario files (*.yaml, *.yml, *.json) in ${empty}` }],
    });
  });
});

describe('evaluateScenario', () => {
  const ORDERED = ['receive_order', 'charge_payment', 'pick_items', 'complete_order'];

  it('passes when state, steps and values all match', () => {
    const result = evaluateScenario(
      scenario({ name: 'ok', expectedSteps: ORDERED, validateFinalState: { 'order.status': 'fulfilled', 'result.price': 10 } }),
      snapshot({ steps: ORDERED, data: { order: { status: 'fulfilled' } }, result: { price: 10 } }),
    );
    expect(result).toEqual({ name: 'ok', file: 's.yaml', passed: true, failures: [] });
  });

  it('state: expected vs actual, with the task error when there is one', () => {
    expect(evaluateScenario(scenario(), snapshot({ state: 'attention' })).failures).toEqual([
      { what: 'state', expected: 'done', actual: 'attention' },
    ]);
    const failed = snapshot({
      state: 'error',
      error: { step: 'charge_payment', message: 'card declined\n    at content', attempts: 3, reason: 'step-failed' },
    });
    expect(evaluateScenario(scenario(), failed)).toEqual({
      name: 's',
      file: 's.yaml',
      passed: false,
      failures: [{ what: 'state', expected: 'done', actual: 'error (charge_payment: card declined)' }],
    });
    expect(evaluateScenario(scenario({ expectedState: 'error' }), failed).passed).toBe(true);
  });

  it('ordered steps: one failure naming the first index that differs', () => {
    const check = (ran: string[]) => evaluateScenario(scenario({ expectedSteps: ORDERED }), snapshot({ steps: ran })).failures;
    expect(check(['receive_order', 'pick_items', 'charge_payment', 'complete_order'])).toEqual([
      {
        what: 'steps (first difference at index 1)',
        expected: '[receive_order, charge_payment, pick_items, complete_order]',
        actual: '[receive_order, pick_items, charge_payment, complete_order]',
      },
    ]);
    expect(check(['receive_order', 'charge_payment'])).toEqual([
      {
        what: 'steps (first difference at index 2)',
        expected: '[receive_order, charge_payment, pick_items, complete_order]',
        actual: '[receive_order, charge_payment]',
      },
    ]);
    expect(check([...ORDERED, 'complete_order'])).toEqual([
      {
        what: 'steps (first difference at index 4)',
        expected: '[receive_order, charge_payment, pick_items, complete_order]',
        actual: '[receive_order, charge_payment, pick_items, complete_order, complete_order]',
      },
    ]);
    // Order matters: the same steps as a set pass.
    expect(evaluateScenario(scenario({ expectedSteps: { set: ORDERED } }), snapshot({ steps: [...ORDERED].reverse() })).passed).toBe(true);
  });

  it('ordered steps: an empty list expects that no step ran', () => {
    expect(evaluateScenario(scenario({ expectedSteps: [] }), snapshot()).passed).toBe(true);
    expect(evaluateScenario(scenario({ expectedSteps: [] }), snapshot({ steps: ['a'] })).failures).toEqual([
      { what: 'steps (first difference at index 0)', expected: '[]', actual: '[a]' },
    ]);
  });

  it('long step lists are shown as a window around the difference', () => {
    const ran = Array.from({ length: 30 }, (_, i) => `s${i}`);
    const expected = ran.map((s, i) => (i === 20 ? 'other' : s));
    expect(evaluateScenario(scenario({ expectedSteps: expected }), snapshot({ steps: ran })).failures).toEqual([
      {
        what: 'steps (first difference at index 20)',
        expected: '[… 17 before, s17, s18, s19, other, s21, s22, s23, s24, s25, s26, … 3 more]',
        actual: '[… 17 before, s17, s18, s19, s20, s21, s22, s23, s24, s25, s26, … 3 more]',
      },
    ]);
    expect(compactList(ran.slice(0, 12))).toBe(`[${ran.slice(0, 12).join(', ')}]`);
    expect(compactList(ran, 0)).toBe('[s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, … 20 more]');
    expect(compactList(ran, 29)).toBe('[… 20 before, s20, s21, s22, s23, s24, s25, s26, s27, s28, s29]');
  });

  it('set of steps: any order, repeats allowed, extras allowed; missing ones are named', () => {
    const expectedSteps = { set: ['notify_customer', 'receive_order', 'ship_express'] };
    expect(
      evaluateScenario(
        scenario({ expectedSteps }),
        snapshot({ steps: ['receive_order', 'notify_customer', 'other', 'ship_express', 'notify_customer'] }),
      ).passed,
    ).toBe(true);
    expect(
      evaluateScenario(scenario({ expectedSteps }), snapshot({ steps: ['receive_order', 'ship_standard', 'receive_order'] })).failures,
    ).toEqual([
      {
        what: 'steps (any order; did not run: notify_customer, ship_express)',
        expected: '{notify_customer, receive_order, ship_express}',
        actual: '{receive_order, ship_standard}',
      },
    ]);
  });

  it('values: equal literals (deep for objects and arrays), array indexes in paths, (missing)', () => {
    const data = { order: { status: 'open', items: [{ sku: 'A' }, { sku: 'B' }], shipping: { method: 'express', days: 1 } } };
    const result = evaluateScenario(
      scenario({
        validateFinalState: {
          'order.status': 'fulfilled',
          'order.items.1.sku': 'B',
          'order.items.2.sku': 'C',
          'order.shipping': { method: 'express', days: 1 },
          'order.items': [{ sku: 'A' }],
          'order.quote.price': 10,
          'order.status.length': 4,
        },
      }),
      snapshot({ data }),
    );
    expect(result.failures).toEqual([
      { what: 'order.status', expected: '"fulfilled"', actual: '"open"' },
      { what: 'order.items.2.sku', expected: '"C"', actual: '(missing)' },
      { what: 'order.items', expected: '[{"sku":"A"}]', actual: '[{"sku":"A"},{"sku":"B"}]' },
      { what: 'order.quote.price', expected: '10', actual: '(missing)' },
      // a string has no keys: its length is not data
      { what: 'order.status.length', expected: '4', actual: '(missing)' },
    ]);
  });

  it('type names are checked as conditions check them', () => {
    const data = { s: 'x', n: 0, inf: Number.POSITIVE_INFINITY, b: false, a: [], o: {}, nil: null, word: 'Number' };
    const check = (path: string, type: string) =>
      evaluateScenario(scenario({ validateFinalState: { [path]: type } }), snapshot({ data })).failures;
    expect(check('s', 'String')).toEqual([]);
    expect(check('n', 'Number')).toEqual([]);
    expect(check('b', 'Boolean')).toEqual([]);
    expect(check('a', 'Array')).toEqual([]);
    expect(check('o', 'Object')).toEqual([]);
    expect(check('n', 'String')).toEqual([{ what: 'n', expected: 'String', actual: '0' }]);
    expect(check('s', 'Number')).toEqual([{ what: 's', expected: 'Number', actual: '"x"' }]);
    expect(check('inf', 'Number')).toEqual([{ what: 'inf', expected: 'Number', actual: 'null' }]); // not finite (JSON shows it as null)
    expect(check('n', 'Boolean')).toEqual([{ what: 'n', expected: 'Boolean', actual: '0' }]);
    expect(check('o', 'Array')).toEqual([{ what: 'o', expected: 'Array', actual: '{}' }]);
    expect(check('a', 'Object')).toEqual([{ what: 'a', expected: 'Object', actual: '[]' }]);
    expect(check('nil', 'Object')).toEqual([{ what: 'nil', expected: 'Object', actual: 'null' }]);
    expect(check('gone', 'String')).toEqual([{ what: 'gone', expected: 'String', actual: '(missing)' }]);
    // A type name matches by type, not as the literal text.
    expect(check('word', 'String')).toEqual([]);
    // null: null or missing, as in conditions.
    const nulls = (path: string) => evaluateScenario(scenario({ validateFinalState: { [path]: null } }), snapshot({ data })).failures;
    expect(nulls('nil')).toEqual([]);
    expect(nulls('gone')).toEqual([]);
    expect(nulls('n')).toEqual([{ what: 'n', expected: 'null', actual: '0' }]);
  });

  it('result paths read the task result; `result` alone is the whole result', () => {
    const done = snapshot({ data: { result: 'in data' }, result: { orderId: 'A-1001', price: 10 } });
    expect(
      evaluateScenario(
        scenario({ validateFinalState: { result: { orderId: 'A-1001', price: 10 }, 'result.price': 10, 'result.orderId': 'String' } }),
        done,
      ).passed,
    ).toBe(true);
    expect(
      evaluateScenario(scenario({ validateFinalState: { 'result.price': 11, result: { orderId: 'A-1001' }, 'result.eta': 1 } }), done)
        .failures,
    ).toEqual([
      { what: 'result.price', expected: '11', actual: '10' },
      { what: 'result', expected: '{"orderId":"A-1001"}', actual: '{"orderId":"A-1001","price":10}' },
      { what: 'result.eta', expected: '1', actual: '(missing)' },
    ]);
    const noResult = snapshot({ state: 'attention', result: null });
    expect(
      evaluateScenario(scenario({ expectedState: 'attention', validateFinalState: { 'result.price': 10, result: null } }), noResult)
        .failures,
    ).toEqual([{ what: 'result.price', expected: '10', actual: '(missing)' }]);
  });

  it('reports every mismatch: state, then steps, then values in their order', () => {
    const result = evaluateScenario(
      scenario({ expectedState: 'done', expectedSteps: ['a', 'b'], validateFinalState: { x: 1, y: 'String' } }),
      snapshot({ state: 'attention', steps: ['a'], data: { x: 2, y: 3 } }),
    );
    expect(result.passed).toBe(false);
    expect(result.failures.map((f) => f.what)).toEqual(['state', 'steps (first difference at index 1)', 'x', 'y']);
  });
});

describe('formatScenarioReport', () => {
  const results: ScenarioResult[] = [
    { name: 'premium order ships express', file: 'premium.yaml', passed: true, failures: [] },
    {
      name: 'standard order',
      file: 'standard.yaml',
      passed: false,
      failures: [
        { what: 'state', expected: 'done', actual: 'attention' },
        { what: 'order.status', expected: '"fulfilled"', actual: '(missing)' },
      ],
    },
  ];

  it('lists ✓/✗ per scenario with failures indented, then the summary', () => {
    expect(formatScenarioReport(results, { color: false })).toBe(
      [
        '✓ premium order ships express',
        '✗ standard order (standard.yaml)',
        '    state',
        '      expected: done',
        '      actual:   attention',
        '    order.status',
        '      expected: "fulfilled"',
        '      actual:   (missing)',
        '',
        '1 passed, 1 failed',
      ].join('\n'),
    );
  });

  it('colors only when asked, with the same text', () => {
    const colored = formatScenarioReport(results, { color: true });
    expect(colored).toContain('\u001b[');
    // eslint-disable-next-line no-control-regex
    expect(colored.replace(/\u001b\[\d+m/g, '')).toBe(formatScenarioReport(results, { color: false }));
  });

  it('lists problems first and counts them', () => {
    expect(
      formatScenarioReport([], {
        color: false,
        problems: [{ file: 'bad.yaml', path: 'data', message: 'must be an object (the task data)' }],
      }),
    ).toBe(['! bad.yaml (data): must be an object (the task data)', '', '0 passed, 0 failed, 1 problem'].join('\n'));
    expect(formatScenarioReport([], { color: false })).toBe('0 passed, 0 failed');
  });
});

describe('runStep', () => {
  it('receive_order opens the order, stamps receivedAt and logs', async () => {
    const input = sampleOrder();
    const out = await runStep(join(STEPS, 'receive_order.mjs'), input);
    const order = out.data.order as JsonObject;
    expect(order.status).toBe('open');
    expect(typeof order.receivedAt).toBe('string');
    expect(new Date(order.receivedAt as string).toISOString()).toBe(order.receivedAt);
    expect(out.logs).toEqual([{ level: 'log', message: 'received order A-1001 with 2 item(s)' }]);
    expect(out.commands).toEqual([]);
    expect([...out.patch].sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { op: 'add', path: '/order/receivedAt', value: order.receivedAt },
      { op: 'replace', path: '/order/status', value: 'open' },
    ]);
    // The caller's data is left alone.
    expect(input).toEqual(sampleOrder());
  });

  it('complete_order.ts gives a complete command with the receipt', async () => {
    const data = { order: { id: 'A-1001', status: 'fulfilled', notified: true, shipping: { method: 'express', days: 1, price: 10 } } };
    const out = await runStep(join(STEPS, 'complete_order.ts'), data);
    expect(out.commands).toEqual([{ type: 'complete', result: { orderId: 'A-1001', shipping: 'express', arrivesInDays: 1, price: 10 } }]);
    expect(out.patch).toEqual([]);
    expect(out.data).toEqual(data);
  });

  it('fulfil_order with the workspace defers the shipping quote into order.quote', async () => {
    const data = sampleOrder();
    (data.order as JsonObject).status = 'open';
    const out = await runStep(join(STEPS, 'fulfil_order.mjs'), data, { workspace: ROOT });
    expect(out.commands).toEqual([
      { type: 'call', call: { connector: 'shipping', method: 'quote', args: { tier: 'premium', items: 2 }, into: 'order.quote' } },
    ]);
    expect((out.data.order as JsonObject).status).toBe('fulfilled');
    expect((out.data.order as JsonObject).quote).toBeUndefined();
  });

  it('without a workspace only built-in connectors exist: the step error is thrown as is', async () => {
    const data = sampleOrder();
    const run = runStep(join(STEPS, 'fulfil_order.mjs'), data);
    await expect(run).rejects.toBeInstanceOf(ConnectorError);
    await expect(run).rejects.toThrow('connectors.shipping.quote: no connector named "shipping"');
  });

  it('with the workspace, direct connector calls run (notify_customer: busy first, then sent)', async () => {
    const email = `runstep-${Date.now()}@example.com`;
    const data = { order: { id: 'A-1001', shipping: { method: 'express', days: 1, price: 10 } }, customer: { email } };
    const first = await runStep(join(STEPS, 'notify_customer.mjs'), data, { workspace: ROOT });
    expect(first.commands).toEqual([{ type: 'park', ms: 500 }, { type: 'redo' }]);
    expect((first.data.order as JsonObject).notifyAttempts).toBe(1);
    expect(first.logs).toEqual([{ level: 'warn', message: 'notification failed (mail server busy, try again later)' }]);
    const second = await runStep(join(STEPS, 'notify_customer.mjs'), first.data, { workspace: ROOT });
    expect((second.data.order as JsonObject).notified).toBe(true);
    expect(second.commands).toEqual([]);
  });

  describe('with step files of its own', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await folder({
        'steps/throws.mjs': [
          'export const condition = { a: 1 };',
          'export class DeclinedError extends Error { constructor(m) { super(m); this.name = "DeclinedError"; this.code = 402; } }',
          'export const content = async () => { const e = new DeclinedError("card declined"); globalThis.__wfThrown = e; throw e; };',
        ].join('\n'),
        'steps/context.mjs': [
          'export const condition = { a: 1 };',
          'export const content = async () => {',
          '  data.seen = { id: task.id(), name: task.name(), tags: task.tags(), region: task.config("region"), step: step.name, attempt: step.attempt };',
          '  data.$stash.token = `t-${data.$stash.apiKey}`;',
          '  task.subtask("child", { $stash: { apiKey: data.$stash.apiKey } });',
          '};',
        ].join('\n'),
        'steps/broken.mjs': 'export const content = async () => {};\n',
      });
    });

    it('throws the very error the content threw', async () => {
      const error = await runStep(join(dir, 'steps/throws.mjs'), { a: 1 }).catch((e: unknown) => e);
      expect(error).toBe((globalThis as { __wfThrown?: unknown }).__wfThrown);
      expect(error).toMatchObject({ name: 'DeclinedError', message: 'card declined', code: 402 });
    });

    it('passes taskId, name, tags and config; $stash is plaintext in data and commands, sealed in the patch', async () => {
      const out = await runStep(
        join(dir, 'steps/context.mjs'),
        { a: 1, $stash: { apiKey: 'k-123456' } },
        { taskId: 't-9', name: 'order', tags: ['vip'], config: { region: 'eu' } },
      );
      expect(out.data.seen).toEqual({ id: 't-9', name: 'order', tags: ['vip'], region: 'eu', step: 'context', attempt: 1 });
      expect(out.data.$stash).toEqual({ apiKey: 'k-123456', token: 't-k-123456' });
      expect(out.commands).toEqual([
        { type: 'subtask', request: { name: 'child', data: { $stash: { apiKey: 'k-123456' } }, into: null, waitFor: false } },
      ]);
      const stashOp = out.patch.find((op) => op.path.startsWith('/$stash'));
      expect(stashOp).toBeDefined();
      expect(JSON.stringify(out.patch)).not.toContain('k-123456');
      const sealedValues = out.patch
        .flatMap((op) => ('value' in op ? [op.value] : []))
        .flatMap((v) => (typeof v === 'object' && v !== null ? Object.values(v) : [v]));
      expect(sealedValues.some((v) => isSealed(v))).toBe(true);
    });

    it('a step file that does not load throws a StepFileError with its problems', async () => {
      const error = await runStep(join(dir, 'steps/broken.mjs'), {}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StepFileError);
      expect((error as StepFileError).problems).toEqual([
        { file: 'broken.mjs', step: 'broken', message: 'missing export `condition` (a pattern over the task data)' },
      ]);
    });
  });
});
