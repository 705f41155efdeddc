/** Catalog analysis rules: shadowing by a more general condition, and keys no step writes. */
import { describe, expect, it } from 'vitest';
import { analyzeCatalog, type CatalogFacts } from '../../src/analysis';
import { conditionImplies } from '../../src/analysis/implication';
import { compileCondition } from '../../src/conditions';
import { coverageOfRuns, coverageReport, formatCoverage, type CoverageHits } from '../../src/analysis/coverage';
import type { RecordedRun } from '../../src/explain/timeline';
import { DEFAULT_TASK_OPTIONS, type Catalog, type CatalogStep, type StepOutcome } from '../../src/model/task';
import { catalogStep } from '../support/catalog-steps';

const step = catalogStep;

const implies = (specific: object, general: object) => conditionImplies(compileCondition(specific), compileCondition(general));

describe('conditionImplies', () => {
  it('proves a more general condition from equality, $exists, ranges and $in', () => {
    expect(implies({ status: 'open', amount: 5 }, { status: 'open' })).toBe(true);
    expect(implies({ status: 'open' }, { status: { $exists: true } })).toBe(true);
    expect(implies({ order: { id: Number } }, { order: { $exists: true } })).toBe(true);
    expect(implies({ status: 'open' }, { status: { $in: ['open', 'new'] } })).toBe(true);
    expect(implies({ status: { $in: ['open'] } }, { status: { $in: ['open', 'new'] } })).toBe(true);
    expect(implies({ amount: { $gt: 100 } }, { amount: { $gt: 10 } })).toBe(true);
    expect(implies({ amount: { $gt: 10 } }, { amount: { $gte: 10 } })).toBe(true);
    expect(implies({ amount: { $lte: 5 } }, { amount: { $lt: 10 } })).toBe(true);
    expect(implies({ amount: 50 }, { amount: { $gt: 10, $lt: 100 } })).toBe(true);
    expect(implies({ amount: { $in: [20, 30] } }, { amount: { $gt: 10 } })).toBe(true);
    expect(implies({ status: 'open' }, { status: { $ne: 'closed' } })).toBe(true);
    expect(implies({ status: 'open' }, { status: String })).toBe(true);
    expect(implies({ status: 'open' }, {})).toBe(true);
  });

  it('does not claim what it cannot prove', () => {
    expect(implies({ status: 'open' }, { status: 'open', amount: 5 })).toBe(false);
    expect(implies({ status: { $exists: true } }, { status: 'open' })).toBe(false);
    expect(implies({ status: null }, { status: { $exists: true } })).toBe(false);
    expect(implies({ amount: { $gt: 10 } }, { amount: { $gt: 100 } })).toBe(false);
    expect(implies({ amount: { $gte: 10 } }, { amount: { $gt: 10 } })).toBe(false);
    expect(implies({ amount: { $gt: 10 } }, { amount: { $lt: 100 } })).toBe(false);
    expect(implies({ status: { $in: ['open', 'new'] } }, { status: { $in: ['open'] } })).toBe(false);
    expect(implies({ status: { $in: ['open', 'closed'] } }, { status: { $ne: 'closed' } })).toBe(false);
    expect(implies({ amount: { $gt: 10 } }, { amount: { $gt: '1' } })).toBe(false);
    expect(implies({ other: 'x' }, { status: { $exists: true } })).toBe(false);
    // `$data` references and groups other than identical ones are not evaluated.
    expect(implies({ a: { $gt: 10 } }, { a: { $gt: { $data: 'b' } } })).toBe(false);
    expect(implies({ a: 1 }, { $or: [{ a: 1 }, { b: 2 }] })).toBe(false);
    expect(implies({ $or: [{ a: 1 }, { b: 2 }], c: 1 }, { $or: [{ a: 1 }, { b: 2 }] })).toBe(true);
  });
});

const facts = (steps: CatalogStep[], sources: Record<string, string>, data: CatalogFacts['data'] = []): CatalogFacts => ({
  steps,
  sources,
  data,
});

describe('shadowed by a more general condition', () => {
  it('reports a step whose condition implies a higher-priority step that writes what it reads', () => {
    const steps = [
      step('triage', { ticket: { state: { $exists: true } } }, 10),
      step('escalate', { ticket: { state: 'open', urgent: true } }),
    ];
    const findings = analyzeCatalog(
      facts(
        steps,
        { triage: "async () => { data.ticket.state = 'triaged'; }", escalate: 'async () => { data.ticket.escalated = true; }' },
        [{ ticket: { state: 'open', urgent: true } }],
      ),
    );
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'shadowed',
        steps: ['escalate', 'triage'],
        paths: ['ticket.state'],
        message: expect.stringContaining("escalate matches only data that triage's more general condition matches too"),
      }),
    ]);
  });

  it('reports a more general winner that can complete the task', () => {
    const steps = [step('close', { amount: { $gt: 0 } }, 5), step('refund', { amount: { $gt: 100 } })];
    const findings = analyzeCatalog(
      facts(steps, { close: 'async () => { task.complete(); }', refund: 'async () => {}' }, [{ amount: 150 }]),
    );
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'shadowed',
        steps: ['refund', 'close'],
        paths: [],
        message: expect.stringContaining('refund runs only if close does not complete the task'),
      }),
    ]);
  });

  it('does not report when the general step ranks lower, is held back by the specific one, or the conditions only overlap', () => {
    const writes = { general: "async () => { data.ticket.state = 'x'; }", specific: 'async () => {}' };
    const data = [{ ticket: { state: 'open', urgent: true } }];
    // Lower priority: the specific step ranks first (and its constraints hold the general one back).
    expect(
      analyzeCatalog(
        facts(
          [step('general', { ticket: { state: String } }), step('specific', { ticket: { state: 'open', urgent: true } })],
          writes,
          data,
        ),
      ),
    ).toEqual([]);
    // Its constraints are a strict subset of the specific step's: it is held back while that one matches.
    expect(
      analyzeCatalog(
        facts(
          [step('general', { ticket: { state: 'open' } }, 10), step('specific', { ticket: { state: 'open', urgent: true } })],
          writes,
          data,
        ),
      ),
    ).toEqual([]);
    // Overlapping, not implied: the specific step can match where the other does not.
    expect(
      analyzeCatalog(
        facts(
          [
            step('general', { ticket: { state: { $in: ['open', 'new'] } } }, 10),
            step('specific', { ticket: { state: { $ne: 'closed' }, urgent: true } }),
          ],
          writes,
          data,
        ),
      ),
    ).toEqual([]);
    // The winner neither writes what the step reads nor completes the task.
    expect(
      analyzeCatalog(
        facts(
          [step('general', { ticket: { state: String } }, 10), step('specific', { ticket: { state: 'open', urgent: true } })],
          { general: 'async () => { data.seen = true; }', specific: 'async () => {}' },
          data,
        ),
      ),
    ).toEqual([]);
  });
});

describe('keys conditions read that no step writes', () => {
  it('reports a key step code mentions but never assigns, absent from samples and scenarios', () => {
    const steps = [step('refund', { order: { refund: { amount: Number } } }), step('log', { order: { id: Number } })];
    const findings = analyzeCatalog(
      facts(
        steps,
        { refund: 'async () => { console.log(data.order.refund.amount); data.order.refunded = true; }', log: 'async () => {}' },
        [{ order: { id: 1 } }],
      ),
    );
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'unwritten-key',
        steps: ['refund'],
        paths: ['order.refund'],
        message: expect.stringContaining('refund reads order.refund, which step code mentions but never assigns'),
      }),
    ]);
  });

  it('counts assignments, object literals, string paths, connector results and data from samples as writes', () => {
    const steps = [step('refund', { order: { refund: { amount: Number } } })];
    const data = [{ order: { id: 1 } }];
    const assigned = [
      'data.order.refund = { amount: 5 };',
      'data.order = { refund: { amount: 1 } };',
      "await connectors.pay.refund({ into: 'order.refund' });",
      'data.order.refund = await lookup();',
      "data.order['refund'] = {}; data.order.refund.amount;",
    ];
    for (const code of assigned) expect(analyzeCatalog(facts(steps, { refund: `async () => { ${code} }` }, data))).toEqual([]);
    expect(analyzeCatalog(facts(steps, { refund: 'async () => { data.order.refund; }' }, [{ order: { refund: { amount: 2 } } }]))).toEqual(
      [],
    );
    // Writes the text does not show make the check step aside.
    expect(
      analyzeCatalog(
        facts(steps, { refund: 'async () => { Object.assign(data.order, await lookup()); data.order.refund.amount; }' }, data),
      ),
    ).toEqual([]);
  });
});

describe('coverage per step', () => {
  const outcome = (patch: StepOutcome['patch']): StepOutcome => ({
    patch,
    commands: [],
    logs: [],
    logsDropped: 0,
    durationMs: 1,
    attempt: 1,
  });
  const catalog: Catalog = {
    version: 'v1',
    connectors: {},
    steps: [
      step('approve', { expense: { status: 'open' }, $or: [{ approval: { approved: true } }, { approval: { overriddenBy: String } }] }),
      step('close', { expense: { status: 'approved' } }),
    ],
  };
  const run: RecordedRun = {
    runId: 'r1',
    input: { name: 't', tags: [], data: { expense: { status: 'open' }, approval: { approved: true } }, options: DEFAULT_TASK_OPTIONS },
    facts: [
      { kind: 'catalog', catalog },
      { kind: 'step-scheduled', id: '1', cycle: 1, step: 'approve' },
      { kind: 'step-completed', id: '1', outcome: outcome([{ op: 'replace', path: '/expense/status', value: 'approved' }]) },
      { kind: 'step-scheduled', id: '2', cycle: 2, step: 'close' },
      { kind: 'step-completed', id: '2', outcome: outcome([{ op: 'replace', path: '/expense/status', value: 'closed' }]) },
    ],
  };

  it('counts per step the data its condition matched and, per constraint and branch, the data it held and failed on', () => {
    const hits: CoverageHits = new Map();
    coverageOfRuns([run], hits);
    const report = coverageReport(catalog.steps, hits);
    // Cycle 1's data, cycle 2's, and the data at the end.
    expect(report.dataSeen).toBe(3);
    expect(report.steps).toEqual([
      { step: 'approve', runs: 1, matched: 1 },
      { step: 'close', runs: 1, matched: 1 },
    ]);
    const counts = report.items.map((item) => [item.step, item.constraint, item.held, item.failed, item.exercised]);
    expect(counts).toEqual([
      ['approve', 'expense.status: "open"', 1, 2, true],
      ['approve', 'approval.approved: true', 3, 0, true],
      ['approve', 'approval.overriddenBy: a String', 0, 3, false],
      ['close', 'expense.status: "approved"', 1, 2, true],
    ]);
    const text = formatCoverage(report);
    expect(text).toContain('per step, on 3 data seen');
    expect(text).toContain('    approve: ran 1, matched 1');
    expect(text).toContain('branch 1 (approval.approved: true): held 3, failed 0  ← never failed');
    expect(text).toContain('branch 2 (approval.overriddenBy: a String): held 0, failed 3  ← never held');
  });
});
