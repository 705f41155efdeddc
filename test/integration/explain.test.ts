/** Explanations from history through the CLI: a misspelt condition key, explained with its did-you-mean. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import type { Plan } from '../../src/analysis/plan';
import type { RunJson } from '../../src/cli/output';
import type { TaskExplanation } from '../../src/explain';
import { whenflow } from '../support/cli';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'explain');
const suiteServer = () => ({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') });

describe('why a step did or did not run', () => {
  let taskId = '';

  it('whenflow run --json says why the task is in attention, naming the near-miss step and the key it misspells', async () => {
    const result = await whenflow(
      ['run', '-w', workspace, '-d', JSON.stringify({ order: { id: 7, status: 'new' } }), '--json'],
      suiteServer(),
    );
    // A task that needs attention: exit 3.
    expect(result.code).toBe(3);
    const out = JSON.parse(result.stdout) as RunJson;
    taskId = out.taskId;
    expect(out.state).toBe('attention');
    expect(out.trace.map((entry) => entry.step)).toEqual(['request_approval', 'audit']);
    expect(out.attention?.nearMisses).toContainEqual({
      step: 'approve',
      failingCount: 1,
      failing: { path: 'aproval.approved', expected: 'true', didYouMean: 'approval', didYouMeanPath: 'approval.approved' },
    });
    // Every step that fails one constraint is a near miss; the others fail on the order's status.
    expect(out.attention?.nearMisses.map((miss) => `${miss.step} ${miss.failing.path}`).sort()).toEqual([
      'approve aproval.approved',
      'archive order.status',
      'request_approval order.status',
    ]);
    expect(out.attention?.alreadyRan).toEqual(['audit']);
    expect(out.attention?.reason).toContain('did you mean `approval`?');
  });

  it('whenflow run says it in words too', async () => {
    const result = await whenflow(['run', '-w', workspace, '-d', JSON.stringify({ order: { id: 8, status: 'new' } })], suiteServer());
    expect(result.stdout).toContain('approve needs aproval.approved: expected true, found nothing (did you mean `approval`?)');
  });

  it('task explain gives every step its verdict now, rebuilt from the history', async () => {
    const result = await whenflow(['task', 'explain', taskId, '--json'], suiteServer());
    expect(result.code).toBe(0);
    const explanation = JSON.parse(result.stdout) as TaskExplanation;
    expect(explanation.cycle).toBeNull();
    expect(explanation.cycles).toBe(2);
    expect(explanation.data).toEqual({
      order: { id: 7, status: 'awaiting-approval' },
      approval: { approved: true, by: 'desk' },
      audited: 1,
    });
    const byStep = Object.fromEntries(explanation.steps.map((s) => [s.step, s]));
    expect(byStep.approve).toMatchObject({
      matched: false,
      status: 'no-match',
      failing: { path: 'aproval.approved', didYouMean: 'approval' },
    });
    expect(byStep.archive).toMatchObject({
      matched: false,
      failing: { path: 'order.status', expected: '"approved"', actual: 'awaiting-approval' },
    });
    expect(byStep.archive!.failing!.didYouMean).toBeUndefined();
    expect(byStep.audit).toMatchObject({ matched: true, rank: 1, status: 'already-ran' });
    expect(explanation.chosen).toEqual([]);

    const words = await whenflow(['task', 'explain', taskId, '--step', 'approve'], suiteServer());
    expect(words.stdout).toContain('aproval.approved: expected true, found nothing (did you mean `approval`?)');
  });

  it('task explain --cycle N explains the cycle as it was chosen: the lower-ranked match waited its turn', async () => {
    const result = await whenflow(['task', 'explain', taskId, '--cycle', '1', '--json'], suiteServer());
    const explanation = JSON.parse(result.stdout) as TaskExplanation;
    expect(explanation.cycle).toBe(1);
    expect(explanation.data).toEqual({ order: { id: 7, status: 'new' } });
    expect(explanation.chosen).toEqual(['request_approval']);
    const byStep = Object.fromEntries(explanation.steps.map((s) => [s.step, s]));
    expect(byStep.request_approval).toMatchObject({ matched: true, rank: 1, status: 'runs' });
    expect(byStep.audit).toMatchObject({ matched: true, rank: 2, status: 'ranked-lower', instead: 'request_approval' });
    expect(byStep.approve).toMatchObject({ status: 'no-match', failing: { path: 'order.status', actual: 'new' } });

    const missing = await whenflow(['task', 'explain', taskId, '--cycle', '9'], suiteServer());
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`task ${taskId} has no cycle 9 (it has run 2 cycles`);
  });

  it('task log --at N shows the data after a cycle, and --diff N M what changed between two', async () => {
    const at0 = JSON.parse((await whenflow(['task', 'log', taskId, '--at', '0', '--json'], suiteServer())).stdout) as { data: object };
    expect(at0.data).toEqual({ order: { id: 7, status: 'new' } });
    const at1 = JSON.parse((await whenflow(['task', 'log', taskId, '--at', '1', '--json'], suiteServer())).stdout) as { data: object };
    expect(at1.data).toEqual({ order: { id: 7, status: 'awaiting-approval' }, approval: { approved: true, by: 'desk' } });
    const diff = JSON.parse((await whenflow(['task', 'log', taskId, '--diff', '1', '2', '--json'], suiteServer())).stdout) as {
      changes: object[];
    };
    expect(diff.changes).toEqual([{ op: 'add', path: '/audited', value: 1 }]);
    const words = await whenflow(['task', 'log', taskId, '--diff', '0', '2'], suiteServer());
    expect(words.stdout).toContain('~ /order/status = "awaiting-approval"');
    expect(words.stdout).toContain('+ /approval = {"approved":true,"by":"desk"}');
  });
});

describe('whenflow plan', () => {
  it('lists the live tasks whose next step would change after a reload, and only those', async () => {
    const name = `plan-${randomUUID()}`;
    const run = await whenflow(
      ['run', '-w', workspace, '--name', name, '-d', JSON.stringify({ order: { id: 9, status: 'new' } }), '--json'],
      suiteServer(),
    );
    const taskId = (JSON.parse(run.stdout) as RunJson).taskId;

    const unchanged = JSON.parse((await whenflow(['plan', '-w', workspace, '--name', name, '--json'], suiteServer())).stdout) as Plan;
    expect(unchanged).toMatchObject({ checked: 1, changes: [] });

    // The misspelt key fixed on disk: after a reload, approve would run next.
    const fixed = await mkdtemp(join(tmpdir(), 'whenflow-plan-'));
    try {
      await cp(workspace, fixed, { recursive: true });
      const file = join(fixed, 'steps', 'approve.mjs');
      await writeFile(file, (await readFile(file, 'utf8')).replace('aproval:', 'approval:'));
      const plan = JSON.parse((await whenflow(['plan', '-w', fixed, '--name', name, '--json'], suiteServer())).stdout) as Plan;
      expect(plan.checked).toBe(1);
      expect(plan.changes).toEqual([expect.objectContaining({ taskId, name, state: 'attention', now: [], afterReload: ['approve'] })]);
      const words = await whenflow(['plan', '-w', fixed, '--name', name], suiteServer());
      expect(words.stdout).toContain('1 of 1 live tasks would change');
    } finally {
      await rm(fixed, { recursive: true, force: true });
    }
  });
});
