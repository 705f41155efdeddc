import pc from 'picocolors';
import { resolve } from 'node:path';
import { recordObservedWrites } from '../../analysis';
import { formatCoverage } from '../../analysis/coverage';
import { formatScenarioReport, runScenarios } from '../../testing';
import { EXIT, UsageError } from '../errors';
import { TimeSkippingUnavailableError } from '../../temporal/time-skipping';
import type { Io } from './task';

/**
 * `whenflow test [DIR]`: every scenario file of DIR (default <workspace>/scenarios) as a real task on a
 * test server. Returns the exit code: 0 all passed, 1 a scenario failed, 2 invalid scenarios or workspace.
 */
export async function testCommand(
  dir: string | undefined,
  opts: { workspace: string; filter?: string; timeSkipping?: boolean; coverage?: boolean; json: boolean },
  io: Io,
): Promise<number> {
  let outcome: Awaited<ReturnType<typeof runScenarios>>;
  // The paths each step was seen writing: `workspace check` looks for steps that write the same paths.
  const writes: Record<string, Set<string>> = {};
  try {
    outcome = await runScenarios({
      workspace: opts.workspace,
      ...(dir ? { dir } : {}),
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(opts.timeSkipping ? { timeSkipping: true } : {}),
      ...(opts.coverage ? { coverage: true } : {}),
      log: (line) => io.err(pc.dim(line)),
      onSettled: (_scenario, snapshot) => {
        for (const entry of snapshot.trace) {
          const written = writes[entry.step] ?? new Set<string>();
          writes[entry.step] = written;
          for (const path of entry.changed) written.add(path);
        }
      },
    });
  } catch (error) {
    if (error instanceof TimeSkippingUnavailableError) throw new UsageError(error.message);
    throw error;
  }
  if (outcome.problems.length === 0)
    await recordObservedWrites(resolve(opts.workspace), writes).catch((error: unknown) =>
      io.err(pc.yellow(`could not record the observed writes: ${String(error)}`)),
    );
  if (opts.json) io.out(JSON.stringify(outcome));
  else io.out(formatScenarioReport(outcome.results, { color: pc.isColorSupported, problems: outcome.problems }));
  if (!opts.json && outcome.coverage) io.out(formatCoverage(outcome.coverage));
  if (outcome.problems.length > 0) return EXIT.usage;
  return outcome.results.every((r) => r.passed) ? EXIT.ok : EXIT.failure;
}
