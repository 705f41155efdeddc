import ms from 'ms';
import { isJsonObject, type JsonValue } from '../model/json';
import type { StepCommand, StepLog } from '../model/task';
import { taskIdValue } from './task-id';
import { resultToJson, toJson } from './to-json';
import { FinalError, brandError } from '../model/errors';

/**
 * An error a step marks as final (`step.fail(message)`, or any error with `final: true`): the step is not
 * retried and the task goes to `error` at once.
 */
export class StepFinalError extends FinalError {
  static {
    brandError(StepFinalError, 'StepFinalError');
  }

  readonly final = true;
  constructor(message: string) {
    super(message);
  }
}

/** Step content called an engine function wrongly (e.g. `task.park("soon")`): retrying would not help. */
export class StepUsageError extends FinalError {
  static {
    brandError(StepUsageError, 'StepUsageError');
  }

  constructor(message: string) {
    super(message);
  }
}

export interface StepApiInput {
  step: string;
  taskId: string;
  attempt: number;
  name?: string;
  tags?: string[];
  /** Workspace configuration values (`task.config(KEY)`); never copied into data or history. */
  config?: Record<string, JsonValue>;
  /** Aborted when the step is cancelled (its timeout, or the task stopped); `step.signal` in content. */
  signal?: AbortSignal;
}

function duration(method: string, value: unknown): number {
  const parsed = typeof value === 'string' ? ms(value as ms.StringValue) : value;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
    throw new StepUsageError(`${method} takes milliseconds or a duration such as "30s", got ${JSON.stringify(value)}`);
  }
  return parsed;
}

/**
 * The `task`, `step` and `audit` objects step content sees. Everything they do is recorded as a
 * command (or a log line); the workflow decides what each command means after the cycle's merge.
 */
export function createStepApi(input: StepApiInput, log: (entry: StepLog) => void) {
  const commands: StepCommand[] = [];
  let name = input.name ?? 'task';
  let tags = [...(input.tags ?? [])];
  const config = input.config ?? {};
  const where = { step: input.step };

  const task = {
    id: taskIdValue(input.taskId),
    complete: (result?: unknown) => {
      commands.push({ type: 'complete', result: resultToJson(result, where) });
    },
    ignore: () => {
      commands.push({ type: 'ignore' });
    },
    park: (wait: unknown) => {
      commands.push({ type: 'park', ms: duration('task.park()', wait) });
    },
    name: (value?: unknown) => {
      if (value === undefined) return name;
      if (typeof value !== 'string' || value.length === 0)
        throw new StepUsageError(`task.name() takes a non-empty string, got ${JSON.stringify(value)}`);
      name = value;
      commands.push({ type: 'name', name: value });
      return name;
    },
    tags: (value?: unknown) => {
      if (value === undefined) return [...tags];
      if (!Array.isArray(value) || !value.every((t) => typeof t === 'string' && t.length > 0)) {
        throw new StepUsageError(`task.tags() takes a list of non-empty strings, got ${JSON.stringify(value)}`);
      }
      tags = [...(value as string[])];
      commands.push({ type: 'tags', tags: [...tags] });
      return [...tags];
    },
    timeout: (wait: unknown) => {
      const after = duration('task.timeout()', wait);
      if (after === 0) throw new StepUsageError('task.timeout() needs a duration longer than 0');
      commands.push({ type: 'timeout', ms: after });
    },
    completeOnExpire: (result?: unknown) => {
      commands.push({ type: 'completeOnExpire', result: resultToJson(result, where) });
    },
    subtask: (subtaskName: unknown, data: unknown, options: unknown = {}) => {
      if (typeof subtaskName !== 'string' || subtaskName.length === 0)
        throw new StepUsageError('task.subtask() needs a name (a non-empty string) first');
      if (!isJsonObject(data)) throw new StepUsageError(`task.subtask("${subtaskName}", data) needs data to be an object`);
      const opts = (isJsonObject(options) ? options : {}) as { into?: unknown; waitFor?: unknown };
      if (opts.into !== undefined && (typeof opts.into !== 'string' || !/^[^.]+(\.[^.]+)*$/.test(opts.into))) {
        throw new StepUsageError(`task.subtask("${subtaskName}") option into must be a dot path such as "companies.3.research"`);
      }
      commands.push({
        type: 'subtask',
        request: {
          name: subtaskName,
          data: toJson(data, where),
          into: (opts.into as string | undefined) ?? null,
          waitFor: opts.waitFor === true,
        },
      });
    },
    config: (key: unknown) => {
      if (typeof key !== 'string' || !Object.hasOwn(config, key)) {
        const known = Object.keys(config);
        throw new StepUsageError(
          `task.config(${JSON.stringify(key)}): no such value under config: in whenflow.yaml${known.length ? ` (known: ${known.join(', ')})` : ''}`,
        );
      }
      return structuredClone(config[key]);
    },
    visualize: (visual: unknown) => {
      if (!isJsonObject(visual) || typeof visual.type !== 'string')
        throw new StepUsageError('task.visualize() takes { type, name, data, options } with a string type');
      const clean = toJson(visual, where);
      log({ level: 'visual', message: `${String(clean.type)}${typeof clean.name === 'string' ? ` ${clean.name}` : ''}`, visual: clean });
    },
  };

  const step = {
    name: input.step,
    attempt: input.attempt,
    signal: input.signal ?? new AbortController().signal,
    redo: () => {
      commands.push({ type: 'redo' });
    },
    /** Fails the step for good: no retry, the task goes to `error` with this message. */
    fail: (message: unknown): never => {
      throw new StepFinalError(typeof message === 'string' ? message : JSON.stringify(message));
    },
  };

  const audit = {
    log: (message: unknown) => {
      log({ level: 'audit', message: typeof message === 'string' ? message : JSON.stringify(message) });
    },
  };

  return { task, step, audit, commands };
}
