import pc from 'picocolors';
import { describeQuery, explainMismatch } from '../../conditions/match';
import { compileCatalog, compareRank, selectSteps } from '../../cycle/select';
import type { JsonObject, JsonValue } from '../../model/json';
import type { CatalogStep } from '../../model/task';
import { UsageError } from '../errors';
import { describeProblems } from '../../model/problems';
import { readTaskData, readWorkspace } from '../input';
import { table } from '../table';
import type { Io } from './task';

function findStep(steps: CatalogStep[], name: string): CatalogStep {
  const step = steps.find((s) => s.name === name);
  if (!step) throw new UsageError(`no step "${name}" (steps: ${steps.map((s) => s.name).join(', ') || 'none'})`);
  return step;
}

export async function stepList(opts: { workspace: string; json: boolean }, io: Io): Promise<void> {
  const { catalog } = await readWorkspace(opts.workspace);
  if (opts.json) {
    io.out(
      JSON.stringify(
        catalog.steps.map(({ name, file, priority, condition }) => ({ name, file, priority, specificity: condition.specificity })),
      ),
    );
    return;
  }
  io.out(
    table(
      ['step', 'file', 'priority', 'specificity', 'condition'],
      catalog.steps.map((s) => [s.name, s.file, String(s.priority), String(s.condition.specificity), describeQuery(s.condition.query)]),
    ),
  );
}

export async function stepShow(name: string, opts: { workspace: string; json: boolean }, io: Io): Promise<void> {
  const { catalog } = await readWorkspace(opts.workspace);
  const step = findStep(catalog.steps, name);
  if (opts.json) {
    io.out(JSON.stringify(step));
    return;
  }
  io.out(
    [
      `${pc.bold('step')}        ${step.name}  (${step.file})`,
      `${pc.bold('condition')}   ${describeQuery(step.condition.query)}`,
      `${pc.bold('specificity')} ${step.condition.specificity}`,
      `${pc.bold('priority')}    ${step.priority}`,
      `${pc.bold('timeout')}     ${step.timeoutMs} ms`,
      `${pc.bold('retry')}       ${step.retry.maximumAttempts} attempts, ${step.retry.initialIntervalMs} ms × ${step.retry.backoffCoefficient}${step.retry.maximumIntervalMs ? `, at most ${step.retry.maximumIntervalMs} ms` : ''}`,
    ].join('\n'),
  );
}

interface Verdict {
  step: string;
  matches: boolean;
  /** Position among matching steps in conflict-resolution order (1 = runs first). */
  rank: number | null;
  /** Whether the step would act in the first cycle on this data, or be held back (subsumed or over the concurrency bound). */
  runsNow: boolean;
  mismatch: { path: string; expected: string; actual: JsonValue | undefined } | null;
}

/** For some data: which steps match, in what order, and why each other step does not. */
export async function stepValidate(
  name: string | undefined,
  opts: { workspace: string; data?: string; file?: string; json: boolean },
  io: Io,
): Promise<void> {
  // A broken step file leaves the others to answer for: it is named on stderr, as the worker disables it.
  const [{ catalog }, data] = await Promise.all([
    readWorkspace(opts.workspace, {
      tolerateBrokenSteps: (problems) => io.err(describeProblems(problems, `${opts.workspace} (disabled until fixed)`)),
    }),
    readTaskData(opts),
  ]);
  const steps = name ? [findStep(catalog.steps, name)] : catalog.steps;
  const compiled = compileCatalog(catalog);
  const matching = compiled.steps
    .filter((entry) => entry.matches(data as JsonObject))
    .map((entry) => entry.step)
    .sort(compareRank);
  const acting = new Set(selectSteps(compiled, data, () => true, Number.MAX_SAFE_INTEGER).run.map((step) => step.name));
  const verdicts: Verdict[] = steps.map((step) => {
    const rank = matching.findIndex((m) => m.name === step.name);
    return {
      step: step.name,
      matches: rank >= 0,
      rank: rank >= 0 ? rank + 1 : null,
      runsNow: acting.has(step.name),
      mismatch: rank >= 0 ? null : explainMismatch(step.condition, data),
    };
  });
  if (opts.json) {
    io.out(JSON.stringify(verdicts));
    return;
  }
  io.out(
    table(
      ['step', 'matches', 'rank', 'first cycle', 'why not'],
      verdicts.map((v) => [
        v.step,
        v.matches ? pc.green('yes') : pc.dim('no'),
        v.rank === null ? '' : String(v.rank),
        v.matches ? (v.runsNow ? 'runs' : 'deferred (subsumed)') : '',
        v.mismatch
          ? `${v.mismatch.path}: expected ${v.mismatch.expected}, found ${v.mismatch.actual === undefined ? 'nothing' : JSON.stringify(v.mismatch.actual)}`
          : '',
      ]),
    ),
  );
}
