// Every command loads its modules when it runs: `whenflow --help` (or a typo) must not pay for the
// Temporal SDK, its native bridge or webpack.
import { format } from 'node:util';
import { Command, CommanderError, Option } from 'commander';
import type { Io, TaskNewOptions } from './commands/task';
import type { RunOptions } from './run';
import { EXIT, exitCodeForTask, UsageError } from './errors';
import { DEFAULT_WEBHOOK_PORT, parsePositiveInt, parseStepList } from './arguments';
import { phase } from './timings';
import { DEFAULT_MAX_DATA_BYTES } from '../model/defaults';

const serve = () => import('./commands/serve');
const taskCommands = () => import('./commands/task');
const explainCommands = () => import('./commands/explain');
const stepCommands = () => import('./commands/step');

const io: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

const collect = (value: string, previous: string[] = []) => [...previous, value];
const parseNonNegativeInt = (value: string) => {
  if (!/^\d+$/.test(value)) throw new UsageError(`--after takes a sequence number (0 or more); got "${value}"`);
  return Number(value);
};
const parseCycle = (flag: string) => (value: string) => {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} takes a cycle number (0 or more); got "${value}"`);
  return Number(value);
};
const parseCyclePair = (values: string[]): [number, number] => {
  if (values.length !== 2)
    throw new UsageError(
      `--diff takes two cycle numbers, N and M; got ${values.length === 0 ? 'none' : values.map((v) => `"${v}"`).join(' ')}`,
    );
  return [parseCycle('--diff')(values[0]!), parseCycle('--diff')(values[1]!)];
};
const workspaceOption = () => new Option('-w, --workspace <dir>', 'workspace folder (holds steps/)').default('.');
// One rule for data in every command: -d inline JSON, -f a file.
const dataOption = (what = 'task data') => new Option('-d, --data <json>', `${what} as inline JSON`).conflicts('file');
const fileOption = (what = 'task data') => new Option('-f, --file <file>', `${what} from a JSON file`).conflicts('data');
const jsonOption = () => new Option('--json', 'machine-readable output on stdout').default(false);
const onConflictOption = () =>
  new Option(
    '--on-conflict <rule>',
    "with --concurrency above 1: a step that met an earlier step's writes runs again (rerun, default) or fails the task (error)",
  ).choices(['rerun', 'error']);

const EXIT_CODES = `
Any command takes --verbose: the Temporal SDK's own log lines too (by default, one line per failed attempt).
Exit codes: 0 success; 2 bad input (arguments, JSON, workspace problems, unknown task, a request the task refuses); 1 infrastructure failure.
A command that waits for a task (task new --wait, run): 0 done or ignored; 1 error, expired or stopped; 3 attention.
Task commands use TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (TEMPORAL_API_KEY, TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH), else the local \`whenflow dev\` server (localhost:7233).`;

function buildProgram(setExitCode: (code: number) => void, verbose: boolean): Command {
  const program = new Command('whenflow')
    .description('Conditional step automations, run durably on Temporal')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError()
    .addHelpText('after', EXIT_CODES);

  program
    .command('init [dir]')
    .description(
      'Create a workspace (default: the current folder): a step, whenflow.yaml, a scenario, a sample task, tsconfig.json, .gitignore',
    )
    .addHelpText(
      'after',
      '\nNever overwrites a file: when one of them exists already, nothing is written (exit 2).\n\nExample:\n  whenflow init my-flows && whenflow run -w my-flows -f my-flows/samples/hello.json',
    )
    .action(async (dir: string | undefined) => (await import('./commands/init')).initCommand(dir, io));

  program
    .command('run')
    .description('Run one task to the end (or until it needs attention) and print the outcome')
    .addOption(workspaceOption())
    .addOption(dataOption())
    .addOption(fileOption())
    .option('--json', 'print one JSON object on stdout (progress goes to stderr)', false)
    .option(
      '--concurrency <n>',
      'most steps run at once in one cycle (default 1: one after another in rank order)',
      parsePositiveInt('--concurrency'),
    )
    .addOption(onConflictOption())
    .option('--max-step-runs <n>', 'runaway-loop guard: most step executions in the task', parsePositiveInt('--max-step-runs'))
    .option(
      '--max-data-bytes <n>',
      `most bytes the task data may take as JSON (default: whenflow.yaml defaults.maxDataBytes, else ${DEFAULT_MAX_DATA_BYTES} = 1.5 MiB)`,
      parsePositiveInt('--max-data-bytes'),
    )
    .option('--name <name>', 'task name')
    .option(
      '--sequence <steps>',
      'run these steps in this order (comma-separated); a step whose condition does not match is skipped',
      parseStepList,
    )
    .option('--then-cycle', 'after the sequence, go on with the condition cycle instead of ending done', false)
    .addHelpText(
      'after',
      `
Uses TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE when set, else starts an embedded Temporal dev server.
Exit codes: 0 the task is done or ignored; 1 it is in error, expired or stopped (or an infrastructure failure);
3 it needs attention; 2 bad input.

Examples:
  whenflow run -f samples/order.json
  whenflow run -w . -d '{"order":{"status":"new"}}' --json
  whenflow run -f samples/order.json --sequence receive_order,charge_payment --then-cycle`,
    )
    .action(async (opts: Omit<RunOptions, 'jsonOutput' | 'thenCycle' | 'logLevel'> & { json: boolean; thenCycle: boolean }) => {
      if (opts.thenCycle && !opts.sequence) throw new UsageError('--then-cycle needs --sequence');
      phase('cli: run command parsed');
      const { runOnce } = await import('./run');
      phase('cli: run module loaded');
      const final = await runOnce(
        {
          workspace: opts.workspace,
          ...(opts.data !== undefined ? { data: opts.data } : {}),
          ...(opts.file !== undefined ? { file: opts.file } : {}),
          jsonOutput: opts.json,
          ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
          ...(opts.onConflict ? { onConflict: opts.onConflict } : {}),
          ...(opts.maxStepRuns ? { maxStepRuns: opts.maxStepRuns } : {}),
          ...(opts.maxDataBytes ? { maxDataBytes: opts.maxDataBytes } : {}),
          ...(opts.name ? { name: opts.name } : {}),
          ...(opts.sequence ? { sequence: opts.sequence, thenCycle: opts.thenCycle } : {}),
          ...(verbose ? { logLevel: 'DEBUG' as const } : {}),
        },
        { out: io.out, progress: opts.json ? io.err : io.out },
      );
      setExitCode(exitCodeForTask(final.state));
    });

  program
    .command('dev')
    .description('Local development: a persistent Temporal dev server with its Web UI, a worker on the workspace, and a watch on steps/')
    .addOption(workspaceOption())
    .option('--port <n>', 'Temporal gRPC port', parsePositiveInt('--port'), 7233)
    .option('--ui-port <n>', 'Web UI port', parsePositiveInt('--ui-port'), 8233)
    .option(
      '--webhook-port <n>',
      'port of the webhook receiver, when whenflow.yaml declares webhooks',
      parsePositiveInt('--webhook-port'),
      DEFAULT_WEBHOOK_PORT,
    )
    .option('--metrics-port <n>', 'serve /metrics and /status on this port (127.0.0.1)', parsePositiveInt('--metrics-port'))
    .option(
      '--max-concurrent-steps <n>',
      'most step executions and deferred connector calls the worker runs at once (default 100)',
      parsePositiveInt('--max-concurrent-steps'),
    )
    .addHelpText(
      'after',
      '\nExample:\n  whenflow dev -w .   # then, in another terminal: whenflow task new demo -f samples/order.json --wait',
    )
    .action(
      async (opts: {
        workspace: string;
        port: number;
        uiPort: number;
        webhookPort: number;
        metricsPort?: number;
        maxConcurrentSteps?: number;
      }) => (await serve()).devCommand(opts, io),
    );

  program
    .command('webhook')
    .description('Receive webhooks declared in whenflow.yaml: POST /hooks/<name> with a JSON body starts a task')
    .addOption(workspaceOption())
    .option('--port <n>', 'port to listen on', parsePositiveInt('--port'), DEFAULT_WEBHOOK_PORT)
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--task-queue <name>', 'task queue of the worker (default: whenflow-<name> from whenflow.yaml name:, else whenflow-<folder>)')
    .addHelpText(
      'after',
      `
Example:
  whenflow webhook -w . --port 8787
  curl -X POST localhost:8787/hooks/orders -H 'content-type: application/json' -H "X-Whenflow-Token: $ORDERS_HOOK_SECRET" -d '{"order":{"status":"new"}}'`,
    )
    .action(async (opts: { workspace: string; port: number; host?: string; taskQueue?: string }) =>
      (await import('./commands/webhook')).webhookCommand(opts, io),
    );

  program
    .command('worker')
    .description('A worker for an existing Temporal service (Temporal Cloud included)')
    .addOption(workspaceOption())
    .option('--task-queue <name>', "task queue (default: the workspace's, whenflow-<name>)")
    .option('--metrics-port <n>', 'serve /metrics (Prometheus) and /status (circuits) on this port', parsePositiveInt('--metrics-port'))
    .option('--metrics-host <address>', 'address of the metrics endpoint (default 127.0.0.1)')
    .option(
      '--max-concurrent-steps <n>',
      'most step executions and deferred connector calls run at once (default 100)',
      parsePositiveInt('--max-concurrent-steps'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  TEMPORAL_ADDRESS=my-ns.a1b2c.tmprl.cloud:7233 TEMPORAL_NAMESPACE=my-ns.a1b2c TEMPORAL_API_KEY=… whenflow worker -w .\n  whenflow worker -w . --metrics-port 9464   # then: curl http://127.0.0.1:9464/metrics',
    )
    .action(
      async (opts: { workspace: string; taskQueue?: string; metricsPort?: number; metricsHost?: string; maxConcurrentSteps?: number }) =>
        (await serve()).workerCommand(opts, io),
    );

  program
    .command('connector')
    .description('Connectors of a running worker')
    .command('status')
    .description("Each connector's circuit breaker (closed, open, half-open, off) and calls in flight, as a running worker sees them")
    .option('--worker <url>', "the worker's metrics address (default: observability.metrics in whenflow.yaml, else http://127.0.0.1:9464)")
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExample:\n  whenflow worker -w . --metrics-port 9464 &\n  whenflow connector status --worker http://127.0.0.1:9464',
    )
    .action(async (opts: { worker?: string; workspace: string; json: boolean }) =>
      (await import('./commands/connector')).connectorStatus(opts, io),
    );

  const task = program.command('task').description('Start, inspect and steer tasks');
  task
    .command('new <name>')
    .description('Start a task')
    .addOption(fileOption())
    .addOption(dataOption())
    .option('--wait', 'wait until the task settles, showing progress', false)
    .option('-t, --tag <tag>', 'a tag (repeatable)', collect)
    .option('--task-queue <name>', "task queue of the worker (default: the workspace's, whenflow-<name>)")
    .addOption(
      new Option(
        '-w, --workspace <dir>',
        'workspace of the task: its task queue, its whenflow.yaml (defaults, stash key), the steps a --sequence is checked against',
      ).default('.'),
    )
    .option(
      '--sequence <steps>',
      'run these steps in this order (comma-separated); a step whose condition does not match is skipped',
      parseStepList,
    )
    .option('--then-cycle', 'after the sequence, go on with the condition cycle instead of ending done', false)
    .option(
      '--concurrency <n>',
      'most steps run at once in one cycle (default: whenflow.yaml defaults.concurrency, else 1)',
      parsePositiveInt('--concurrency'),
    )
    .addOption(onConflictOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  whenflow task new "order A-1001" -f samples/order.json --wait\n  whenflow task new ping -d \'{"ping":true}\' -t smoke\n  whenflow task new picking -f samples/order.json -w . --sequence receive_order,charge_payment --wait',
    )
    .action(async (name: string, opts: TaskNewOptions) => {
      const final = await (await taskCommands()).taskNew(name, opts, io);
      if (final) setExitCode(exitCodeForTask(final.state));
    });
  task
    .command('list')
    .description('List tasks through Temporal visibility, newest first')
    .option('--state <state>', 'running, waiting, attention, error, done, ignored, stopped or expired')
    .option('--name <name>', 'exact task name')
    .option('--tag <tag>', 'a tag the task has')
    .option('--limit <n>', 'at most this many (default 100)', parsePositiveInt('--limit'))
    .addOption(jsonOption())
    .addHelpText('after', '\nExample:\n  whenflow task list --state error')
    .action(async (opts: { state?: string; name?: string; tag?: string; limit?: number; json: boolean }) =>
      (await taskCommands()).taskList(opts, io),
    );
  task
    .command('show <id>')
    .description('State, data, result, error and conflicts of a task')
    .addOption(jsonOption())
    .action(async (id: string, opts: { json: boolean }) => (await taskCommands()).taskShow(id, opts, io));
  task
    .command('log <id>')
    .description('The step executions of a task')
    .option('--changes', 'show the paths each step changed', false)
    .option('--logs', "show each step's console output, audit lines and visuals", false)
    .option('--step <name>', 'only this step')
    .option('--follow', 'stream new executions live until the task settles', false)
    .addOption(
      new Option('--at <n>', 'show the data after cycle N (0: as the task started), rebuilt from the history')
        .argParser(parseCycle('--at'))
        .conflicts(['diff', 'follow']),
    )
    .addOption(
      new Option('--diff <cycles...>', 'show what changed in the data between cycle N and cycle M (two numbers)').conflicts([
        'at',
        'follow',
      ]),
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  whenflow task log task-… --changes --logs --follow\n  whenflow task log task-… --at 3\n  whenflow task log task-… --diff 2 5',
    )
    .action(
      async (
        id: string,
        opts: { changes: boolean; logs: boolean; step?: string; follow: boolean; json: boolean; at?: number; diff?: string[] },
      ) => {
        if (opts.at !== undefined) return (await explainCommands()).taskLogData(id, { at: opts.at, json: opts.json }, io);
        if (opts.diff !== undefined)
          return (await explainCommands()).taskLogData(id, { diff: parseCyclePair(opts.diff), json: opts.json }, io);
        return (await taskCommands()).taskLog(id, opts, io);
      },
    );
  task
    .command('explain <id>')
    .description(
      'Why each step did or did not run: matched or not, rank, the first failing constraint, what held a matching step back (rebuilt from the history)',
    )
    .option(
      '--cycle <n>',
      'explain cycle N (the data its steps were chosen on); default: the task as it stands now',
      parsePositiveInt('--cycle'),
    )
    .option('--step <name>', 'only this step')
    .addOption(jsonOption())
    .addHelpText('after', '\nExamples:\n  whenflow task explain task-…\n  whenflow task explain task-… --cycle 3 --step approve')
    .action(async (id: string, opts: { cycle?: number; step?: string; json: boolean }) =>
      (await explainCommands()).taskExplain(id, opts, io),
    );
  task
    .command('events <id>')
    .description("The task's event stream (steps, cycles, calls, subtasks, state changes), numbered from 1")
    .option('--after <n>', 'only events after this sequence number (a cursor)', parseNonNegativeInt)
    .option('--follow', 'keep streaming new events until the task ends', false)
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  whenflow task events task-… --follow --json     one JSON object per line\n  whenflow task events task-… --after 120',
    )
    .action(async (id: string, opts: { after?: number; follow: boolean; json: boolean }) =>
      (await taskCommands()).taskEventsCommand(id, opts, io),
    );
  task
    .command('update <id>')
    .description('Merge data into a task (JSON Merge Patch; null deletes) and start a new cycle')
    .addOption(dataOption('the patch'))
    .addOption(fileOption('the patch'))
    .addOption(
      new Option('-w, --workspace <dir>', 'workspace whose whenflow.yaml holds the stash key (for patches with $stash)').default('.'),
    )
    .addOption(jsonOption())
    .addHelpText('after', '\nExample:\n  whenflow task update task-… -d \'{"approval":{"approved":true}}\'')
    .action(async (id: string, opts: { data?: string; file?: string; workspace?: string; json: boolean }) =>
      (await taskCommands()).taskUpdate(id, opts, io),
    );
  task
    .command('resume <id>')
    .description('Run the failed step (or connector call) of a task in error again')
    .addOption(jsonOption())
    .action(async (id: string, opts: { json: boolean }) => (await taskCommands()).taskResume(id, opts, io));
  task
    .command('reload <id>')
    .description('Load the step files again (after they changed) and run a new cycle with them')
    .addOption(jsonOption())
    .action(async (id: string, opts: { json: boolean }) => (await taskCommands()).taskReload(id, opts, io));
  task
    .command('stop <id>')
    .description('End a task that is not terminal (and its running subtasks)')
    .addOption(jsonOption())
    .action(async (id: string, opts: { json: boolean }) => (await taskCommands()).taskStop(id, opts, io));
  task
    .command('clone <id>')
    .description('Start a new task with the same name, tags and initial data')
    .option('--task-queue <name>', "task queue of the worker (default: the original task's)")
    .addOption(jsonOption())
    .action(async (id: string, opts: { taskQueue?: string; json: boolean }) => (await taskCommands()).taskClone(id, opts, io));

  const step = program.command('step').description('Inspect the steps of a workspace');
  step
    .command('list')
    .description('Steps with their conditions, priority and specificity')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (opts: { workspace: string; json: boolean }) => (await stepCommands()).stepList(opts, io));
  step
    .command('show <name>')
    .description('One step: condition, specificity, priority, timeout, retry policy')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (name: string, opts: { workspace: string; json: boolean }) => (await stepCommands()).stepShow(name, opts, io));
  step
    .command('validate [name]')
    .description('For some data: which steps match, their rank, and the first failing constraint of the others')
    .addOption(workspaceOption())
    .addOption(dataOption())
    .addOption(fileOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExample:\n  whenflow step validate -f samples/order.json\n  whenflow step validate ship_express -d \'{"order":{"status":"fulfilled"}}\'',
    )
    .action(async (name: string | undefined, opts: { workspace: string; data?: string; file?: string; json: boolean }) =>
      (await stepCommands()).stepValidate(name, opts, io),
    );

  program
    .command('test [dir]')
    .description('Run scenario tests (default folder: <workspace>/scenarios) as real tasks on a test server')
    .addOption(workspaceOption())
    .option('--filter <text>', 'only scenarios whose name or file contains this text')
    .option(
      '--time-skipping',
      "run on Temporal's time-skipping test server: parks and deadlines take no wall time (needs Java; Maven once)",
      false,
    )
    .option(
      '--coverage',
      'report the steps that ran and the condition constraints and $or branches exercised, and list those never exercised',
      false,
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
A scenario file (YAML or JSON): name, data (or dataFile), updates (data sent once a step has run:
[{ afterStep: name, data: {…} }]), expectedSteps (in order, or { set: [...] }), expectedState (default
done; waiting: judged as soon as the task waits), validateFinalState (dot path → value, or a type name).
Exit codes: 0 every scenario passed; 1 a scenario failed; 2 invalid scenario files or workspace.

Example:
  whenflow test -w .
  whenflow test -w . --time-skipping`,
    )
    .action(
      async (
        dir: string | undefined,
        opts: { workspace: string; filter?: string; timeSkipping: boolean; coverage: boolean; json: boolean },
      ) => setExitCode(await (await import('./commands/test')).testCommand(dir, opts, io)),
    );

  program
    .command('plan')
    .description('The live tasks whose next step would change if they reloaded the steps on disk (compared with the catalog each recorded)')
    .addOption(workspaceOption())
    .option('--name <name>', 'only tasks with this name')
    .option('--tag <tag>', 'only tasks with this tag')
    .addOption(jsonOption())
    .addHelpText('after', '\nExample:\n  whenflow plan -w .')
    .action(async (opts: { workspace: string; name?: string; tag?: string; json: boolean }) =>
      (await import('./commands/plan')).planCommand(opts, io),
    );

  program
    .command('workspace')
    .description('Workspace tools')
    .command('check')
    .description(
      'Validate steps, connectors and whenflow.yaml (problems: exit 2); warn about never-matching conditions, shadowed steps, unknown keys and overlapping writes',
    )
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (opts: { workspace: string; json: boolean }) => (await import('./commands/workspace')).workspaceCheck(opts, io));

  return program;
}

/** Bad input the Temporal service reports (unknown task, a request the task's validator refused). */
async function asUsageError(error: unknown): Promise<UsageError | null> {
  if (error instanceof UsageError) return error;
  // Loaded only now: an error of these kinds can only come from a command that loaded them already.
  const [{ TaskClosedError, TaskInputError }, { WorkflowNotFoundError, WorkflowUpdateFailedError }] = await Promise.all([
    import('../client'),
    import('@temporalio/client'),
  ]);
  if (error instanceof TaskInputError || error instanceof TaskClosedError) return new UsageError(error.message);
  if (error instanceof WorkflowNotFoundError) return new UsageError(`no such task: ${error.workflowId ?? error.message}`);
  if (error instanceof WorkflowUpdateFailedError)
    return new UsageError(`the task refused: ${error.cause instanceof Error ? error.cause.message : error.message}`);
  return null;
}

/**
 * With `--json`, stdout carries the JSON alone: whatever code of the workspace writes with `console`
 * (a connector module, a library, a step file as it loads) goes to stderr. Output of step content is
 * captured with its step execution anyway.
 */
function keepStdoutForJson(argv: string[]): void {
  if (!argv.includes('--json')) return;
  const toStderr = (...args: unknown[]) => process.stderr.write(`${format(...args)}\n`);
  Object.assign(console, { log: toStderr, info: toStderr, debug: toStderr });
}

export async function main(args: string[]): Promise<number> {
  // `--verbose` anywhere: the Temporal SDK's own detail too (each failed attempt's full report).
  const verbose = args.includes('--verbose');
  const argv = args.filter((arg) => arg !== '--verbose');
  keepStdoutForJson(argv);
  let exitCode: number = EXIT.ok;
  try {
    const program = buildProgram((code) => {
      exitCode = code;
    }, verbose);
    // Before any command connects to Temporal (the runtime is process-wide); `init` never does, and `run`
    // installs it itself while its server starts.
    program.hook('preAction', async (_program, action) => {
      if (action.name() === 'init' || action.name() === 'run') return;
      const { installRuntime } = await import('../temporal/sdk-logging');
      installRuntime(verbose ? 'DEBUG' : undefined);
    });
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; every other parse failure is bad input.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const usage = await asUsageError(error);
    if (usage) {
      process.stderr.write(`whenflow: ${usage.message}\n`);
      return EXIT.usage;
    }
    const detail = error instanceof Error ? (process.env.WHENFLOW_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
    process.stderr.write(`whenflow: ${detail}\n`);
    return EXIT.failure;
  }
}
