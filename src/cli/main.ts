import { Command, CommanderError, Option } from 'commander';
import { EXIT, UsageError } from './errors';
import { parsePositiveInt } from './input';
import { runOnce } from './run';
import { installRuntime } from '../temporal/runtime';

function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('whenflow')
    .description('Conditional step automations, run durably on Temporal')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('Run one task to the end (or until it needs attention) and print the outcome')
    .requiredOption('-w, --workspace <dir>', 'workspace folder (holds steps/)')
    .addOption(new Option('--data <file>', 'task data as a JSON file').conflicts('jsonData'))
    .addOption(new Option('-d, --json-data <json>', 'task data as inline JSON').conflicts('data'))
    .option('--json', 'print one JSON object on stdout (progress goes to stderr)', false)
    .option('--concurrency <n>', 'most steps run at once in one cycle (default 10)', parsePositiveInt('--concurrency'))
    .option('--max-step-runs <n>', 'runaway-loop guard: most step executions in the task', parsePositiveInt('--max-step-runs'))
    .option('--name <name>', 'task name')
    .addHelpText(
      'after',
      `
Uses TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE when set, else starts an embedded Temporal dev server.
Exit codes: 0 the task reached done/ignored/stopped/expired/attention/error; 2 bad input; 1 infrastructure failure.

Examples:
  whenflow run --workspace . --data samples/order.json
  whenflow run -w . -d '{"order":{"status":"new"}}' --json`,
    )
    .action(async (opts: { workspace: string; data?: string; jsonData?: string; json: boolean; concurrency?: number; maxStepRuns?: number; name?: string }) => {
      const write = (stream: NodeJS.WriteStream) => (s: string) => stream.write(`${s}\n`);
      await runOnce(
        {
          workspace: opts.workspace,
          ...(opts.data !== undefined ? { data: opts.data } : {}),
          ...(opts.jsonData !== undefined ? { json: opts.jsonData } : {}),
          jsonOutput: opts.json,
          ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
          ...(opts.maxStepRuns ? { maxStepRuns: opts.maxStepRuns } : {}),
          ...(opts.name ? { name: opts.name } : {}),
        },
        { out: write(process.stdout), progress: write(opts.json ? process.stderr : process.stdout) },
      );
      setExitCode(EXIT.ok);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  installRuntime();
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; every other parse failure is bad input.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`whenflow: ${error.message}\n`);
      return EXIT.usage;
    }
    const detail = error instanceof Error ? (process.env.WHENFLOW_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
    process.stderr.write(`whenflow: ${detail}\n`);
    return EXIT.failure;
  }
}
