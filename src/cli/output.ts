import pc from 'picocolors';
import type { JsonValue } from '../model/json';
import { maskStashForDisplay } from '../runtime/stash';
import type { TaskSnapshot, TaskState, TraceEntry } from '../model/task';

/** The `whenflow run --json` contract (documented in the README); keep it stable. */
export interface RunJson {
  taskId: string;
  state: TaskState;
  result: JsonValue | null;
  data: TaskSnapshot['data'];
  trace: TraceEntry[];
  conflicts: { cycle: number; paths: string[]; kept: string; dropped: string }[];
  error: { step: string; message: string; attempts: number } | null;
}

/** Output never shows secrets: sealed `$stash` values are shown as `‹sealed string›` and so on. */
export function toRunJson(snapshot: TaskSnapshot): RunJson {
  return {
    taskId: snapshot.taskId,
    state: snapshot.state,
    result: snapshot.result,
    data: maskStashForDisplay(snapshot.data),
    trace: snapshot.trace,
    conflicts: snapshot.conflicts,
    error: snapshot.error ? { step: snapshot.error.step, message: snapshot.error.message, attempts: snapshot.error.attempts } : null,
  };
}

const STATE_COLOR: Record<TaskState, (s: string) => string> = {
  running: pc.cyan,
  waiting: pc.cyan,
  attention: pc.yellow,
  error: pc.red,
  done: pc.green,
  ignored: pc.dim,
  stopped: pc.dim,
  expired: pc.yellow,
};

const STEP_COLUMN = 20;

export function formatStep(entry: TraceEntry): string {
  const changed = entry.changed.length > 0 ? `changed ${entry.changed.join(', ')}` : pc.dim('no change');
  const attempt = entry.attempt > 1 ? pc.yellow(` (attempt ${entry.attempt})`) : '';
  const lines = [`  cycle ${String(entry.cycle).padStart(3)}  ${pc.bold(entry.step.padEnd(STEP_COLUMN))}${attempt} ${pc.dim(`${entry.durationMs} ms`.padStart(7))}  ${changed}`];
  for (const log of entry.logs) lines.push(pc.dim(`             ${log.level === 'log' ? '' : `${log.level}: `}${log.message}`));
  return lines.join('\n');
}

export function formatFinal(snapshot: TaskSnapshot): string {
  const lines = [`${pc.bold('state')}  ${STATE_COLOR[snapshot.state](snapshot.state)}  (${snapshot.stepRuns} step runs in ${snapshot.cycle} cycles)`];
  if (snapshot.error) {
    lines.push(`${pc.bold('error')}  step ${pc.bold(snapshot.error.step || '(catalog)')} after ${snapshot.error.attempts} attempt(s): ${pc.red(snapshot.error.message)}`);
  }
  for (const conflict of snapshot.conflicts) {
    lines.push(`${pc.yellow('conflict')}  cycle ${conflict.cycle}: ${conflict.kept} kept, ${conflict.dropped} dropped at ${conflict.paths.join(', ')}`);
  }
  if (snapshot.result !== null) lines.push(`${pc.bold('result')} ${JSON.stringify(snapshot.result)}`);
  lines.push(pc.bold('data'), JSON.stringify(maskStashForDisplay(snapshot.data), null, 2));
  return lines.join('\n');
}
