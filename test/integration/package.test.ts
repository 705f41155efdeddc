import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * whenflow as a team gets it: the package is built and packed (`npm pack`), installed from the tarball
 * into an empty project, and used there only through its bin and its exports.
 */
const root = join(import.meta.dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
  // `whenflow run` here starts its own embedded Temporal server, as it does for a new user.
  delete childEnv.TEMPORAL_ADDRESS;
  delete childEnv.TEMPORAL_NAMESPACE;
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: childEnv, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function expectOk(ran: Ran, what: string): void {
  if (ran.code !== 0) throw new Error(`${what} failed (exit ${ran.code}):\n${ran.stdout}\n${ran.stderr}`);
}

let scratch: string;
let tarball: string;
let project: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'whenflow-package-'));
  // `npm pack` builds the package first (the prepack script).
  const packed = await exec('npm', ['pack', '--pack-destination', scratch, '--json'], root);
  expectOk(packed, 'npm pack');
  const [pack] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string }[];
  tarball = join(scratch, pack!.filename);
  project = join(scratch, 'team-project');
  await exec('mkdir', ['-p', project], scratch);
  await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'team-project', private: true, type: 'module' }, null, 2)}\n`);
  expectOk(await exec('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], project), 'npm install <tarball>');
}, 900_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const npx = (args: string[]) => exec('npx', ['--no-install', ...args], project);

describe('the packed package', () => {
  it('passes publint and arethetypeswrong (ESM: node16 and bundler resolution)', async () => {
    expectOk(await exec(join(root, 'node_modules', '.bin', 'publint'), [], root), 'publint');
    const attw = await exec(join(root, 'node_modules', '.bin', 'attw'), [tarball, '--profile', 'esm-only', '--format', 'json'], root);
    expectOk(attw, 'attw');
    const report = JSON.parse(attw.stdout) as { analysis: { problems: unknown[] } };
    expect(
      report.analysis.problems.filter((p) => !['node10', 'node16-cjs'].includes((p as { resolutionKind?: string }).resolutionKind ?? '')),
    ).toEqual([]);
  }, 120_000);

  it('ships compiled JavaScript, declarations and the prebuilt workflow bundles, no TypeScript sources', async () => {
    const installed = join(project, 'node_modules', 'whenflow');
    const files = await readdir(join(installed, 'dist'));
    expect(files).toEqual(
      expect.arrayContaining([
        'index.js',
        'worker.js',
        'testing.js',
        'workflows.js',
        'step.js',
        'cli.js',
        'workflow-bundle.js',
        'workflow-bundle-traced.js',
        'types',
      ]),
    );
    expect(existsSync(join(installed, 'src'))).toBe(false);
    expect((await readFile(join(installed, 'dist', 'cli.js'), 'utf8')).startsWith('#!/usr/bin/env node')).toBe(true);
  });

  it('whenflow init scaffolds a workspace, and refuses to overwrite its files', async () => {
    const init = await npx(['whenflow', 'init', 'flows']);
    expectOk(init, 'whenflow init flows');
    for (const file of ['whenflow.yaml', 'steps/greet.ts', 'scenarios/greet.yaml', 'samples/hello.json', 'tsconfig.json', '.gitignore']) {
      expect(existsSync(join(project, 'flows', file)), file).toBe(true);
    }
    expect(await readFile(join(project, 'flows', '.gitignore'), 'utf8')).toContain('.whenflow/');
    const again = await npx(['whenflow', 'init', 'flows']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(join(project, 'flows', 'whenflow.yaml'));
    expect(again.stderr).toContain('nothing was written');
  });

  it('whenflow run completes a task of the scaffolded workspace', async () => {
    const run = await npx(['whenflow', 'run', '-w', 'flows', '-f', 'flows/samples/hello.json', '--json']);
    expectOk(run, 'whenflow run');
    const outcome = JSON.parse(run.stdout) as { state: string; result: unknown };
    expect(outcome.state).toBe('done');
    expect(outcome.result).toEqual({ greeting: 'Hello, Ada!' });
  }, 300_000);

  it("whenflow test passes the scaffolded workspace's scenario", async () => {
    const test = await npx(['whenflow', 'test', '-w', 'flows']);
    expectOk(test, 'whenflow test');
    expect(test.stdout).toContain('1 passed, 0 failed');
  }, 300_000);

  it('the client entry imports from plain Node ESM without the worker, its native bridge or webpack', async () => {
    const script = `
      import { createRequire } from 'node:module';
      const client = await import('whenflow');
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify({
        exports: Object.keys(client).sort(),
        heavy: loaded.filter((file) => /[\\\\/](@temporalio[\\\\/](worker|core-bridge)|webpack)[\\\\/]/.test(file)),
        temporalClient: loaded.some((file) => file.includes('@temporalio/client')),
      }));`;
    const ran = await exec(process.execPath, ['--input-type=module', '-e', script], project);
    expectOk(ran, 'import whenflow');
    const seen = JSON.parse(ran.stdout) as { exports: string[]; heavy: string[]; temporalClient: boolean };
    expect(seen.exports).toEqual(expect.arrayContaining(['startTask', 'getTask', 'waitForTask', 'updateTask', 'listTasks', 'taskEvents']));
    // The check can see CommonJS modules loaded through ESM: @temporalio/client is one.
    expect(seen.temporalClient).toBe(true);
    expect(seen.heavy).toEqual([]);
  });

  it('the worker and testing entries import from plain Node ESM', async () => {
    const script = `
      const worker = await import('whenflow/worker');
      const testing = await import('whenflow/testing');
      console.log(JSON.stringify([typeof worker.whenflowWorkerOptions, typeof worker.createTaskWorker, typeof testing.runStep]));`;
    const ran = await exec(process.execPath, ['--input-type=module', '-e', script], project);
    expectOk(ran, 'import whenflow/worker');
    expect(JSON.parse(ran.stdout)).toEqual(['function', 'function', 'function']);
  });

  it('type-checks a .ts step with the scaffolded tsconfig, and reports a misuse of the step globals', async () => {
    const workspace = join(project, 'flows');
    expectOk(await exec(process.execPath, [tsc, '-p', workspace], project), 'tsc on the scaffolded workspace');
    await writeFile(
      join(workspace, 'steps', 'wrong.ts'),
      'export const condition = {};\nexport const content = async () => {\n  task.park(true);\n};\n',
    );
    const wrong = await exec(process.execPath, [tsc, '-p', workspace], project);
    await rm(join(workspace, 'steps', 'wrong.ts'));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toContain('steps/wrong.ts');
    expect(wrong.stdout).toContain("Argument of type 'boolean' is not assignable to parameter of type 'StepDuration'");
  }, 120_000);

  it("runs whenflow tasks in the team's own worker, its workflows file re-exporting whenflow/workflows", async () => {
    await writeFile(
      join(project, 'team-workflows.js'),
      `import { proxyActivities } from '@temporalio/workflow';
export { taskWorkflow } from 'whenflow/workflows';
const { shout } = proxyActivities({ startToCloseTimeout: '10 seconds' });
export async function greetingWorkflow(name) { return shout('hello, ' + name); }
`,
    );
    await writeFile(
      join(project, 'team-worker.mjs'),
      `import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startTask, waitForTask } from 'whenflow';
import { whenflowWorkerOptions } from 'whenflow/worker';

const [address, namespace] = process.argv.slice(2);
const taskQueue = 'team-' + randomUUID();
const connection = await NativeConnection.connect({ address });
const client = new Client({ connection: await Connection.connect({ address }), namespace });
const whenflow = await whenflowWorkerOptions({ workspace: 'flows' });
const worker = await Worker.create({
  connection, namespace, taskQueue,
  workflowsPath: fileURLToPath(new URL('./team-workflows.js', import.meta.url)),
  activities: { ...whenflow.activities, shout: async (text) => text.toUpperCase() },
});
const outcome = await worker.runUntil(async () => {
  const own = client.workflow.execute('greetingWorkflow', { taskQueue, workflowId: 'greeting-' + randomUUID(), args: ['team'] });
  const handle = await startTask(client, { data: { person: { name: 'Grace' } }, taskQueue });
  const task = await waitForTask(client, handle.workflowId, { timeoutMs: 60000 });
  return { own: await own, state: task.state, result: task.result };
});
console.log(JSON.stringify(outcome));
process.exit(0);
`,
    );
    const ran = await exec(process.execPath, ['team-worker.mjs', inject('temporalAddress'), inject('temporalNamespace')], project);
    expectOk(ran, 'the team worker');
    expect(JSON.parse(ran.stdout.trim().split('\n').at(-1)!)).toEqual({
      own: 'HELLO, TEAM',
      state: 'done',
      result: { greeting: 'Hello, Grace!' },
    });
  }, 180_000);
});
