/**
 * Operating whenflow from the command line, day to day: workspaces that keep to their own task queue,
 * machine output that is only machine output, exit codes scripts can use, one rule for data flags,
 * complete task logs, broken step files that disable only themselves, and hints when no server answers.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { getTask } from '../../src/client';
import { formatDuration } from '../../src/cli/output';
import { loadWorkspaceConfig, workspaceTaskQueue } from '../../src/workspace/config';
import { whenflow } from '../support/cli';
import { scratchWorkspaces } from '../support/scratch-workspaces';
import { startHarness, type TestHarness } from '../support/temporal';

const { workspace } = scratchWorkspaces('operate');
const env = () => ({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') });
const cli = (args: string[]) => whenflow(args, env());
const harnesses: TestHarness[] = [];

afterAll(async () => {
  for (const harness of harnesses) await harness.close();
});

/** A worker on the workspace's own task queue, as `whenflow dev` or `whenflow worker` there would run. */
async function serve(dir: string): Promise<TestHarness> {
  const { config } = await loadWorkspaceConfig(dir);
  const harness = await startHarness(dir, { taskQueue: workspaceTaskQueue(config, dir) });
  harnesses.push(harness);
  return harness;
}

const step = (condition: string, content: string) =>
  `export const condition = ${condition};\nexport const content = async () => {\n${content}\n};\n`;

describe('each workspace has its own task queue', () => {
  it("task new -w DIR reaches that workspace's worker, never another workspace's", async () => {
    const alpha = await workspace({
      'whenflow.yaml': 'name: alpha\n',
      'steps/who.mjs': step('{ who: null }', "  data.who = 'alpha';\n  task.complete('alpha');"),
    });
    const beta = await workspace({ 'steps/who.mjs': step('{ who: null }', "  data.who = 'beta';\n  task.complete('beta');") });
    await serve(alpha);
    await serve(beta);
    const a = await cli(['task', 'new', 'which', '-w', alpha, '-d', '{"x":1}', '--wait', '--json']);
    const b = await cli(['task', 'new', 'which', '-w', beta, '-d', '{"x":1}', '--wait', '--json']);
    expect(JSON.parse(a.stdout)).toMatchObject({ state: 'done', result: 'alpha' });
    expect(JSON.parse(b.stdout)).toMatchObject({ state: 'done', result: 'beta' });
  });
});

describe('machine output and exit codes', () => {
  it('run --json: what workspace code prints goes to stderr, stdout is one JSON object', async () => {
    const dir = await workspace({
      'connectors/noisy.mjs': "export async function ping() {\n  console.log('noisy connector output');\n  return { pong: true };\n}\n",
      'steps/ping.mjs': step('{ pong: null }', '  data.pong = (await connectors.noisy.ping()).pong;\n  task.complete();'),
    });
    const { stdout, stderr, code } = await cli(['run', '-w', dir, '-d', '{"x":1}', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ state: 'done', data: { pong: true } });
    expect(stderr).toContain('noisy connector output');
  });

  it('task new --wait exits 0 done, 1 error, 3 attention', async () => {
    const dir = await workspace({
      'whenflow.yaml': 'name: exits\ndefaults:\n  retry: { maximumAttempts: 1 }\n',
      'steps/finish.mjs': step("{ go: 'done' }", '  task.complete();'),
      'steps/fail.mjs': step("{ go: 'error' }", "  throw new Error('no way');"),
    });
    await serve(dir);
    const codeFor = async (go: string) => (await cli(['task', 'new', go, '-w', dir, '-d', JSON.stringify({ go }), '--wait'])).code;
    expect(await codeFor('done')).toBe(0);
    expect(await codeFor('error')).toBe(1);
    expect(await codeFor('nothing matches')).toBe(3);
  });
});

describe('one rule for data flags', () => {
  it('-f takes a file (JSON or YAML) and -d inline JSON in task new, task update and step validate; messages name the flag', async () => {
    const dir = await workspace({
      'whenflow.yaml': 'name: flags\n',
      'steps/approve.mjs': step('{ approval: { approved: true } }', "  task.complete('approved');"),
      'task.yaml': 'request:\n  amount: 5\n',
      'patch.json': '{"approval":{"approved":true}}',
    });
    await serve(dir);
    const started = await cli(['task', 'new', 'flags', '-w', dir, '-f', join(dir, 'task.yaml'), '--json']);
    const { taskId } = JSON.parse(started.stdout) as { taskId: string };
    const validate = await cli(['step', 'validate', '-w', dir, '-f', join(dir, 'patch.json'), '--json']);
    expect(JSON.parse(validate.stdout)).toEqual([expect.objectContaining({ step: 'approve', matches: true })]);
    expect((await cli(['task', 'update', taskId, '-f', join(dir, 'patch.json')])).code).toBe(0);
    await expect.poll(async () => (await getTask(harnesses.at(-1)!.client, taskId)).state, { timeout: 30_000 }).toBe('done');
    const wrong = await cli(['task', 'update', taskId, '-d', join(dir, 'patch.json')]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(
      `-d/--data takes the patch as inline JSON; ${join(dir, 'patch.json')} is a file: give it with -f/--file`,
    );
  });
});

describe('task log and parks', () => {
  it('lists every execution, the failed one included, in one layout with or without --follow', async () => {
    const dir = await workspace({
      'whenflow.yaml': 'name: logs\ndefaults:\n  retry: { maximumAttempts: 1 }\n',
      'steps/flaky.mjs': step(
        '{ flaky: true, ok: null }',
        "  if (!data.fixed) throw new Error('not yet');\n  data.ok = true;\n  task.complete();",
      ),
    });
    const harness = await serve(dir);
    const created = await cli(['task', 'new', 'logs', '-w', dir, '-d', '{"flaky":true}', '--wait', '--json']);
    expect(created.code).toBe(1);
    const { taskId } = JSON.parse(created.stdout) as { taskId: string };
    await cli(['task', 'update', taskId, '-d', '{"fixed":true}']);
    await expect.poll(async () => (await getTask(harness.client, taskId)).state, { timeout: 30_000 }).toBe('done');
    const log = await cli(['task', 'log', taskId]);
    const follow = await cli(['task', 'log', taskId, '--follow']);
    expect(log.stdout).toMatch(/cycle 1 {2}flaky {2}failed after 1 attempt\(s\): not yet/);
    expect(log.stdout).toMatch(/cycle 2 {2}flaky {2}attempt 1/);
    // The same lines either way (--follow adds where the task stands at the end).
    expect(follow.stdout.startsWith(log.stdout.trimEnd())).toBe(true);
    expect(follow.stdout).toContain('task is done');
  });

  it('reload runs a new cycle at once, also for a parked task; parks show their duration and wake time', async () => {
    const dir = await workspace({
      'whenflow.yaml': 'name: parked\n',
      'steps/wait.mjs': step('{ waiting: true, resumed: null }', "  task.park('1h');\n  step.redo();"),
    });
    const harness = await serve(dir);
    const { stdout } = await cli(['task', 'new', 'parked', '-w', dir, '-d', '{"waiting":true}', '--json']);
    const { taskId } = JSON.parse(stdout) as { taskId: string };
    await expect.poll(async () => (await getTask(harness.client, taskId)).state, { timeout: 30_000 }).toBe('waiting');
    const events = await cli(['task', 'log', taskId]);
    expect(events.stdout).toMatch(/parked for 1h, until \d{4}-\d\d-\d\dT/);
    writeFileSync(
      join(dir, 'steps', 'wait.mjs'),
      step('{ waiting: true, resumed: null }', "  data.resumed = true;\n  task.complete('reloaded');"),
    );
    expect((await cli(['task', 'reload', taskId])).code).toBe(0);
    await expect.poll(async () => (await getTask(harness.client, taskId)).result, { timeout: 30_000 }).toBe('reloaded');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(250)).toBe('250ms');
  });
});

describe('a broken step file', () => {
  it('step validate answers for the other steps and names the broken file', async () => {
    const dir = await workspace({
      'steps/good.mjs': step('{ a: 1 }', '  data.b = 2;'),
      'steps/bad.mjs': 'export const condition = { a: 1 };\nexport const content = async () => { data.x = ; };\n',
    });
    const { code, stdout, stderr } = await cli(['step', 'validate', '-w', dir, '-d', '{"a":1}', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([expect.objectContaining({ step: 'good', matches: true })]);
    expect(stderr).toMatch(/steps\/bad\.mjs: cannot load/);
  });
});

describe('no server to talk to', () => {
  it('says where it looked and suggests whenflow dev', async () => {
    const { code, stderr } = await whenflow(['task', 'list'], { TEMPORAL_ADDRESS: undefined, TEMPORAL_NAMESPACE: undefined });
    expect(code).toBe(1);
    expect(stderr).toContain('cannot reach Temporal at localhost:7233 (the local dev server, as TEMPORAL_ADDRESS is not set)');
    expect(stderr).toContain('start one with `whenflow dev`');
  });
});
