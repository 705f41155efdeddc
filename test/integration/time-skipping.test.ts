/** Scenarios and test environments on Temporal's time-skipping test server: an hour-long park takes no wall time. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '../../src/testing';
import { whenflow } from '../support/cli';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'approval');

describe('whenflow test --time-skipping', () => {
  it('passes a scenario with a one-hour park and an update sent mid-run, in seconds', async () => {
    const started = Date.now();
    const result = await whenflow(['test', '-w', workspace, '--time-skipping', '--json']);
    const elapsed = Date.now() - started;
    const outcome = JSON.parse(result.stdout) as { results: { name: string; passed: boolean; failures: unknown[] }[]; problems: unknown[] };
    expect(outcome.problems).toEqual([]);
    expect(outcome.results).toEqual([
      { name: 'approved an hour later, after the reminder', file: 'approved-after-reminder.yaml', passed: true, failures: [] },
      { name: 'without an answer the expense waits for approval', file: 'still-waiting.yaml', passed: true, failures: [] },
    ]);
    expect(result.code).toBe(0);
    // Server start included; the hour of the park is skipped.
    expect(elapsed).toBeLessThan(60_000);
  });

  it('fails a scenario whose update never gets sent, saying which step never ran', async () => {
    const result = await whenflow(['test', join(workspace, 'failing-scenarios'), '-w', workspace, '--time-skipping', '--json']);
    expect(result.code).toBe(1);
    const outcome = JSON.parse(result.stdout) as { results: { passed: boolean; failures: { what: string; actual: string }[] }[] };
    expect(outcome.results[0]!.passed).toBe(false);
    expect(outcome.results[0]!.failures).toContainEqual({
      what: 'updates',
      expected: 'data sent after approve',
      actual: 'approve never ran, so 1 update was not sent',
    });
  });
});

describe('whenflow test --coverage', () => {
  it('lists the steps that never ran and the constraints and $or branches never exercised', async () => {
    const result = await whenflow(['test', '-w', workspace, '--time-skipping', '--coverage', '--json']);
    expect(result.code).toBe(0);
    const { coverage } = JSON.parse(result.stdout) as {
      coverage: {
        dataSeen: number;
        steps: { step: string; runs: number; matched: number }[];
        items: { held: number; failed: number }[];
        neverRan: string[];
        neverExercised: { step: string; constraint: string; branch?: { index: number } }[];
      };
    };
    expect(coverage.steps).toEqual([
      { step: 'approve', runs: 1, matched: 1 },
      { step: 'escalate', runs: 0, matched: 0 },
      // Also on the data the waiting scenario's task ends with: remind runs when its park is over.
      { step: 'remind', runs: 1, matched: 2 },
      { step: 'request_approval', runs: 2, matched: 2 },
    ]);
    // Every constraint and branch is judged on every data seen.
    expect(coverage.dataSeen).toBeGreaterThan(0);
    for (const item of coverage.items) expect(item.held + item.failed).toBe(coverage.dataSeen);
    expect(coverage.neverRan).toEqual(['escalate']);
    expect(coverage.neverExercised).toContainEqual(
      expect.objectContaining({
        step: 'approve',
        constraint: 'approval.overriddenBy: a String',
        branch: { group: '$or [ approval.approved: true | approval.overriddenBy: a String ]', index: 2 },
        exercised: false,
        held: 0,
      }),
    );
    expect(coverage.neverExercised).not.toContainEqual(
      expect.objectContaining({ step: 'approve', branch: expect.objectContaining({ index: 1 }) }),
    );
    expect(coverage.neverExercised.filter((item) => item.step === 'escalate').map((item) => item.constraint)).toEqual([
      'expense.status: "awaiting-approval"',
      'approval.approved: false',
    ]);

    const words = await whenflow(['test', '-w', workspace, '--time-skipping', '--coverage']);
    expect(words.stdout).toContain('coverage: 3/4 steps ran');
    expect(words.stdout).toContain('never ran: escalate');
    expect(words.stdout).toContain(
      'never taken: approve $or [ approval.approved: true | approval.overriddenBy: a String ] branch 2 (approval.overriddenBy: a String)',
    );
    expect(words.stdout).toContain('    escalate: ran 0, matched 0');
    expect(words.stdout).toMatch(/approval\.overriddenBy: a String\): held 0, failed \d+ {2}← never held/);
  });
});

describe('createTestEnvironment({ timeSkipping: true })', () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await createTestEnvironment({ workspace, timeSkipping: true });
  }, 120_000);
  afterAll(() => env?.close());

  it('runs a task through an hour-long park without waiting for it', async () => {
    const started = Date.now();
    const final = await env.runTask({ expense: { status: 'new', amount: 5 } }, { timeoutMs: 30_000 });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(final.state).toBe('attention');
    expect(final.trace.map((entry) => entry.step)).toEqual(['request_approval', 'remind']);
    expect(final.data).toEqual({ expense: { status: 'awaiting-approval', amount: 5, reminded: true } });
  });
});
