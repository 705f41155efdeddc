import pc from 'picocolors';
import { describeFailing, explainTask, taskDataAt, taskDataDiff, type StepExplanation, type TaskExplanation } from '../../explain';
import { maskStashForDisplay } from '../../runtime/stash';
import type { DataOperation } from '../../model/patch';
import { withSession } from '../connect';
import { UsageError } from '../errors';
import { table } from '../table';
import type { Io } from './task';

const STATUS_WORDS: Record<StepExplanation['status'], string> = {
  runs: 'runs',
  'no-match': 'no match',
  'already-ran': 'already ran',
  subsumed: 'held: more specific step first',
  'ranked-lower': 'held: ranked lower',
  sequence: 'held: sequence',
};

function formatExplanation(explanation: TaskExplanation): string {
  const when =
    explanation.cycle === null
      ? `now (after cycle ${explanation.cycles}; what the next cycle would choose)`
      : `cycle ${explanation.cycle} of ${explanation.cycles} (the data its steps were chosen on)`;
  const lines = [`${pc.bold('task')}   ${explanation.taskId}`, `${pc.bold('at')}     ${when}`];
  lines.push(
    table(
      ['step', 'matches', 'rank', 'verdict', 'why'],
      explanation.steps.map((s) => [
        s.step,
        s.matched ? pc.green('yes') : pc.dim('no'),
        s.rank === null ? '' : String(s.rank),
        s.status === 'runs' ? pc.green(STATUS_WORDS[s.status]) : STATUS_WORDS[s.status],
        s.failing ? describeFailing(s.failing) : s.status === 'runs' ? '' : s.reason,
      ]),
    ),
  );
  if (explanation.cycle === null && explanation.chosen.length === 0)
    lines.push(pc.yellow('no eligible step matches: the task needs new data, a reload or a resume'));
  return lines.join('\n');
}

/** `whenflow task explain <id> [--cycle N] [--step NAME]`: every step's verdict, rebuilt from the history. */
export async function taskExplain(taskId: string, opts: { cycle?: number; step?: string; json: boolean }, io: Io): Promise<void> {
  const explanation = await withSession(({ client }) =>
    explainTask(client, taskId, {
      ...(opts.cycle !== undefined ? { cycle: opts.cycle } : {}),
      ...(opts.step !== undefined ? { step: opts.step } : {}),
    }),
  );
  const shown = { ...explanation, data: maskStashForDisplay(explanation.data) };
  io.out(opts.json ? JSON.stringify(shown) : formatExplanation(shown));
}

function formatOperation(op: DataOperation): string {
  if (op.op === 'remove') return `${pc.red('-')} ${op.path}`;
  return `${op.op === 'add' ? pc.green('+') : pc.yellow('~')} ${op.path} = ${JSON.stringify(op.value)}`;
}

/** `task log --at N` (the data after cycle N) and `task log --diff N M` (what changed between them). */
export async function taskLogData(taskId: string, opts: { at?: number; diff?: [number, number]; json: boolean }, io: Io): Promise<void> {
  await withSession(async ({ client }) => {
    if (opts.diff) {
      const [from, to] = opts.diff;
      const diff = await taskDataDiff(client, taskId, from, to);
      // Secrets never show: a change under $stash is shown masked.
      const changes = diff.changes.map((op) =>
        op.op === 'remove' || !/^\/\$stash(\/|$)/.test(op.path) ? op : { ...op, value: '‹sealed›' },
      );
      if (opts.json) io.out(JSON.stringify({ ...diff, changes }));
      else
        io.out(
          changes.length === 0
            ? pc.dim(`no change between cycle ${from} and cycle ${to}`)
            : [`${pc.bold('from')} cycle ${from} ${pc.bold('to')} cycle ${to}`, ...changes.map(formatOperation)].join('\n'),
        );
      return;
    }
    if (opts.at === undefined) throw new UsageError('give --at N or --diff N M');
    const data = maskStashForDisplay(await taskDataAt(client, taskId, opts.at));
    io.out(
      opts.json ? JSON.stringify({ cycle: opts.at, data }) : `${pc.bold('data after cycle')} ${opts.at}\n${JSON.stringify(data, null, 2)}`,
    );
  });
}
