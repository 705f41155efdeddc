import { format } from 'node:util';
import type { JsonObject } from '../model/json';
import type { StepCommand, StepLog, StepOutcome } from '../model/task';
import { diffData } from './diff';
import { runInStepScope } from './globals';
import { resultToJson, toJson } from './to-json';

export type StepContent = () => unknown;

export interface StepExecution {
  step: string;
  taskId: string;
  attempt: number;
  data: JsonObject;
  content: StepContent;
}

export const LOG_LIMITS = { entries: 200, chars: 4000 };

/** Captures console output of one step execution, bounded so a chatty step cannot bloat history. */
function createCapturedConsole(): { console: Console; logs: StepLog[]; dropped: () => number } {
  const logs: StepLog[] = [];
  let dropped = 0;
  const record = (level: StepLog['level']) => (...args: unknown[]) => {
    if (logs.length >= LOG_LIMITS.entries) {
      dropped += 1;
      return;
    }
    const message = format(...args);
    logs.push({ level, message: message.length > LOG_LIMITS.chars ? `${message.slice(0, LOG_LIMITS.chars)}…` : message });
  };
  const captured = Object.assign(Object.create(globalThis.console) as Console, {
    log: record('log'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    debug: record('debug'),
  });
  return { console: captured, logs, dropped: () => dropped };
}

/**
 * Runs one step's content on a private copy of the data and reports what it changed and which commands
 * it gave. It decides nothing about what runs next: that is the workflow's job.
 */
export async function executeStep(execution: StepExecution): Promise<StepOutcome> {
  const commands: StepCommand[] = [];
  const captured = createCapturedConsole();
  const scope = {
    data: structuredClone(execution.data) as unknown,
    task: {
      id: () => execution.taskId,
      complete: (result?: unknown) => {
        commands.push({ type: 'complete', result: resultToJson(result, { step: execution.step }) });
      },
      ignore: () => {
        commands.push({ type: 'ignore' });
      },
    },
    step: {
      name: execution.step,
      attempt: execution.attempt,
      redo: () => {
        commands.push({ type: 'redo' });
      },
    },
    connectors: {},
    audit: {},
    lib: {},
    console: captured.console,
  };
  const started = performance.now();
  await runInStepScope(scope, async () => {
    await execution.content();
  });
  const durationMs = Math.round(performance.now() - started);
  const after = toJson(scope.data, { step: execution.step });
  return {
    patch: diffData(execution.data, after),
    commands,
    logs: captured.logs,
    logsDropped: captured.dropped(),
    durationMs,
    attempt: execution.attempt,
  };
}
