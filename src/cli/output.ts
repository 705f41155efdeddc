import pc from 'picocolors';
import type { JsonValue } from '../model/json';
import { maskStashForDisplay } from '../runtime/stash';
import type { ConflictRecord, TaskSnapshot, TaskState, TraceEntry } from '../model/task';
import type { SequencePosition, TaskEvent } from '../model/events';
import { describeFailing, type AttentionReason, type NearMiss } from '../explain';

/** The `whenflow run --json` contract (documented in docs/cli.md); keep it stable. */
export interface RunJson {
  taskId: string;
  state: TaskState;
  result: JsonValue | null;
  data: TaskSnapshot['data'];
  trace: TraceEntry[];
  conflicts: ConflictRecord[];
  error: { step: string; message: string; attempts: number } | null;
  /** With state `attention`: why no step matches, and each near-miss step with the constraint it fails. */
  attention?: { reason: string; nearMisses: NearMiss[]; alreadyRan: string[] };
}

/** Output never shows secrets: sealed `$stash` values are shown as `‹sealed string›` and so on. */
export function toRunJson(snapshot: TaskSnapshot & { attention?: AttentionReason }): RunJson {
  return {
    taskId: snapshot.taskId,
    state: snapshot.state,
    result: snapshot.result,
    data: maskStashForDisplay(snapshot.data),
    trace: snapshot.trace,
    conflicts: snapshot.conflicts,
    error: snapshot.error ? { step: snapshot.error.step, message: snapshot.error.message, attempts: snapshot.error.attempts } : null,
    ...(snapshot.attention
      ? {
          attention: {
            reason: snapshot.attention.summary,
            nearMisses: snapshot.attention.nearMisses,
            alreadyRan: snapshot.attention.alreadyRan,
          },
        }
      : {}),
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
  const lines = [
    `  cycle ${String(entry.cycle).padStart(3)}  ${pc.bold(entry.step.padEnd(STEP_COLUMN))}${attempt} ${pc.dim(`${entry.durationMs} ms`.padStart(7))}  ${changed}`,
  ];
  for (const log of entry.logs) lines.push(pc.dim(`             ${log.level === 'log' ? '' : `${log.level}: `}${log.message}`));
  return lines.join('\n');
}

/** `step 2/5` for a listed step, `cycle   3` for a step the conditions chose. */
function stepPlace(cycle: number, position: SequencePosition | undefined): string {
  return position ? `step ${`${position.index}/${position.of}`.padStart(5)}` : `cycle ${String(cycle).padStart(3)}`;
}

/** `3600000` → `1h`, `1500` → `1.5s`: durations as people read them. */
export function formatDuration(milliseconds: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) {
    if (milliseconds >= size) return `${Number((milliseconds / size).toFixed(1))}${unit}`;
  }
  return `${milliseconds}ms`;
}

/** One line of live progress for an event, or null for events too fine-grained to show. */
export function formatEvent(event: TaskEvent): string | null {
  switch (event.type) {
    case 'task-started':
      return event.sequence ? pc.dim(`  sequence of ${event.sequence.length}: ${event.sequence.join(', ')}`) : null;
    case 'step-finished': {
      const changed = event.changed.length > 0 ? `changed ${event.changed.join(', ')}` : pc.dim('no change');
      const attempt = event.attempt > 1 ? pc.yellow(` (attempt ${event.attempt})`) : '';
      return `  ${stepPlace(event.cycle, event.position)}  ${pc.bold(event.step.padEnd(STEP_COLUMN))}${attempt} ${pc.dim(`${event.durationMs} ms`.padStart(7))}  ${changed}`;
    }
    case 'step-skipped':
      return `  ${stepPlace(0, event.position)}  ${pc.bold(event.step.padEnd(STEP_COLUMN))} ${pc.dim(`skipped: ${event.reason}`)}`;
    case 'step-failed':
      return `  ${stepPlace(event.cycle, event.position)}  ${pc.bold(event.step.padEnd(STEP_COLUMN))} ${pc.red(`failed after ${event.attempts} attempt(s): ${event.message}`)}`;
    case 'conflict':
      return pc.yellow(`  ${describeConflict(event)}`);
    case 'steps-disabled':
      return pc.red(
        `  step files disabled until fixed and reloaded (the other steps run):\n${event.problems.map((p) => `    ${p.file}${p.path ? ` (${p.path})` : ''}: ${p.message}`).join('\n')}`,
      );
    case 'subtask-needs-help':
      return pc.red(`  subtask ${event.taskId} is in ${event.state}`);
    case 'parked':
      return pc.dim(`  parked for ${formatDuration(event.ms)}, until ${new Date(Date.parse(event.at) + event.ms).toISOString()}`);
    case 'subtask-started':
      return pc.dim(`  subtask ${event.taskId} (${event.name}) started by ${event.step}`);
    case 'subtask-ended':
      return pc.dim(`  subtask ${event.taskId} ended ${event.state}`);
    case 'call-sent':
      return pc.dim(`  ${event.connector}.${event.method} → ${event.into} sent by ${event.step}`);
    case 'call-answered':
      return pc.dim(`  ${event.connector}.${event.method} → ${event.into} answered`);
    case 'call-failed':
      return pc.red(`  ${event.connector}.${event.method} → ${event.into} failed: ${event.message}`);
    case 'data-updated':
      return pc.dim(`  data updated: ${event.keys.join(', ')}`);
    case 'state-changed':
      return event.to === 'attention' || event.to === 'error' ? `  task is ${STATE_COLOR[event.to](event.to)}` : null;
    case 'cycle-began':
    case 'step-started':
    case 'task-ended':
      return null;
  }
}

/** What became of the step that lost a conflict, in words. */
export function describeConflict(conflict: ConflictRecord): string {
  const at = conflict.paths.length > 0 ? ` at ${conflict.paths.join(', ')}` : '';
  switch (conflict.outcome) {
    case 'rerun':
      return conflict.paths.length > 0
        ? `cycle ${conflict.cycle}: ${conflict.dropped} ran beside ${conflict.kept}, which wrote what it read or wrote${at}; its changes were not kept and it runs again if it still matches`
        : `cycle ${conflict.cycle}: ${conflict.dropped} ranks after ${conflict.kept}, which runs again; its changes were not kept and it runs again if it still matches`;
    case 'error':
      return `cycle ${conflict.cycle}: ${conflict.dropped} ran beside ${conflict.kept}${at}; its changes were not kept and the task failed (onConflict: error)`;
    case 'overwritten':
      return `cycle ${conflict.cycle}: an update from outside replaced what ${conflict.dropped} wrote${at}`;
    default:
      return `cycle ${conflict.cycle}: ${conflict.kept} kept, ${conflict.dropped} dropped${at}`;
  }
}

/** Why a task is in attention, one line per near-miss step. */
export function formatAttention(attention: AttentionReason): string[] {
  const lines = [`${pc.bold('why')}    ${pc.yellow('no eligible step matches the data')}`];
  for (const miss of attention.nearMisses) lines.push(`       ${pc.bold(miss.step)} needs ${describeFailing(miss.failing)}`);
  if (attention.alreadyRan.length > 0) lines.push(`       matching but already ran: ${attention.alreadyRan.join(', ')}`);
  return lines;
}

export function formatFinal(snapshot: TaskSnapshot & { attention?: AttentionReason }): string {
  const lines = [
    `${pc.bold('state')}  ${STATE_COLOR[snapshot.state](snapshot.state)}  (${snapshot.stepRuns} step runs in ${snapshot.cycle} cycles)`,
  ];
  if (snapshot.attention) lines.push(...formatAttention(snapshot.attention));
  if (snapshot.error) {
    lines.push(
      `${pc.bold('error')}  step ${pc.bold(snapshot.error.step || '(catalog)')} after ${snapshot.error.attempts} attempt(s): ${pc.red(snapshot.error.message)}`,
    );
  }
  for (const conflict of snapshot.conflicts) lines.push(`${pc.yellow('conflict')}  ${describeConflict(conflict)}`);
  if (snapshot.result !== null) lines.push(`${pc.bold('result')} ${JSON.stringify(snapshot.result)}`);
  lines.push(pc.bold('data'), JSON.stringify(maskStashForDisplay(snapshot.data), null, 2));
  return lines.join('\n');
}
