/**
 * The messages between a worker's main thread and a step thread. Everything crosses by structured
 * clone, so nothing the step content touches (prototypes, getters, `toJSON`) is ever run by the main
 * thread; what comes back is checked with zod like any other outside input.
 */
import { z } from 'zod';
// The same contract the task workflow holds step outcomes to: a thread's answer is checked as it arrives.
import { activityResultSchemas } from '../model/activity-results';
import { formatJsonPath, type JsonObject, type JsonValue } from '../model/json';
import type { StepOutcome } from '../model/task';
import { FinalError, WhenflowError, brandError } from '../model/errors';

/** What a connector offers, as the thread's stand-in registry needs it (the calls themselves run in the main thread). */
export interface ConnectorOutline {
  name: string;
  methods: string[];
  callable?: string;
  source: string;
}

/** One step execution, as the thread needs it: where to read the step from, and its inputs. */
export interface StepJob {
  workspace: string;
  step: string;
  /** Step file relative to the workspace. */
  file: string;
  taskId: string;
  executionId: string;
  attempt: number;
  name: string;
  tags: string[];
  config: Record<string, JsonValue>;
  data: JsonObject;
  /** The stash keys with their ids (the first seals, any opens), or null when none is set. */
  stashKeys: { id: string; key: Uint8Array }[] | null;
  /** Texts masked like `$stash` values (the `config:` values listed under `secrets.config`). */
  secretTexts: string[];
  maxDataBytes?: number;
  trackReads: boolean;
  /** `blobs:` of whenflow.yaml as written; the thread opens its own store from it. */
  blobs: JsonValue | null;
  connectors: ConnectorOutline[];
}

/** An error as it crosses between threads: its class is gone, what the engine decides on is kept. */
export interface SentError {
  name: string;
  message: string;
  stack?: string;
  /** Retrying cannot help (decided where the error was made, where its class is known). */
  nonRetryable: boolean;
  /** An open circuit's time for its probe call (ms since the epoch), to schedule the retry for then. */
  retryAt: number | null;
  /** Own JSON properties of the error (`status`, `code`, `final`, …) that step content may look at. */
  props: Record<string, JsonValue>;
}

export type ToThread =
  | { type: 'run'; job: StepJob }
  | { type: 'cancel'; reason: string }
  | { type: 'settled'; id: number; ok: true; value: Uint8Array }
  | { type: 'settled'; id: number; ok: false; error: SentError };

export type FromThread =
  | { type: 'ready' }
  /** `secrets`: what the call's connector must mask in what it logs or records (the step's secrets at the time of the call). */
  | { type: 'call'; id: number; connector: string; method: string; args: JsonObject; idempotencyKey: string; secrets: string[] }
  | { type: 'done'; outcome: StepOutcome }
  | { type: 'failed'; error: SentError }
  /** After the outcome: whether the execution left the thread as it found it (it may serve again), or why not. */
  | { type: 'checked'; reusable: boolean; retireReason?: string };

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);
const jsonObject = z.record(z.string(), jsonValue);

const sentErrorSchema = z.object({
  name: z.string(),
  message: z.string(),
  stack: z.string().optional(),
  nonRetryable: z.boolean(),
  retryAt: z.number().nullable(),
  props: z.record(z.string(), jsonValue),
});

const fromThreadSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({
    type: z.literal('call'),
    id: z.number().int(),
    connector: z.string(),
    method: z.string(),
    args: jsonObject,
    idempotencyKey: z.string(),
    secrets: z.array(z.string()),
  }),
  z.object({ type: z.literal('done'), outcome: activityResultSchemas().stepOutcome }),
  z.object({ type: z.literal('failed'), error: sentErrorSchema }),
  z.object({ type: z.literal('checked'), reusable: z.boolean(), retireReason: z.string().optional() }),
]);

/** A message from a step thread, or an error saying what was wrong with it. */
export function parseFromThread(message: unknown): FromThread {
  const parsed = fromThreadSchema.safeParse(message);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `a step thread sent a malformed message (${issue ? `${formatJsonPath(issue.path) || 'message'}: ${issue.message}` : 'unknown'})`,
    );
  }
  // The message itself, not zod's copy (which drops keys a schema does not list): checked, then passed on as sent.
  return message as FromThread;
}

const sentErrorProps = ['status', 'statusCode', 'code', 'final', 'connector', 'method', 'field', 'retryAt', 'step', 'path'] as const;

/** An error made ready to cross to the other thread, with the engine's verdict on it. */
export function sendError(error: unknown, verdict: (error: Error) => { nonRetryable: boolean; retryAt: number | null }): SentError {
  const original = error instanceof Error ? error : new Error(String(error));
  const props: Record<string, JsonValue> = {};
  for (const key of sentErrorProps) {
    const value: unknown = (original as unknown as Record<string, unknown>)[key];
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') props[key] = value;
  }
  let name = 'Error';
  let message = '';
  try {
    name = String(original.name);
    message = String(original.message);
  } catch {
    message = 'an error whose name or message could not be read';
  }
  const stack = typeof original.stack === 'string' ? original.stack : undefined;
  return { name, message, ...(stack !== undefined ? { stack } : {}), ...verdict(original), props };
}

/**
 * An error that crossed from the other thread, where it was judged retryable. Its class is gone; it keeps
 * the original's name, message, stack and plain properties, and the verdict travels as its own class, so
 * step content that catches it and throws it again keeps that verdict.
 */
export class CrossedError extends WhenflowError {
  static {
    brandError(CrossedError, 'CrossedError');
  }

  // Private: the error's own `retryAt` property (one of its plain properties), if any, stays as it was.
  readonly #retryAt: number | null;

  constructor(message: string, retryAt: number | null) {
    super(message);
    this.#retryAt = retryAt;
  }

  /** When an open circuit lets its probe through (ms since the epoch) as judged in the other thread, or null. */
  get verdictRetryAt(): number | null {
    return this.#retryAt;
  }
}

/** An error that crossed from the other thread, where it was judged final (see CrossedError). */
export class CrossedFinalError extends FinalError {
  static {
    brandError(CrossedFinalError, 'CrossedFinalError');
  }
}

/** An Error standing for one that crossed from the other thread: its name, message, stack, plain properties and verdict. */
export function receivedError(sent: SentError): (CrossedError | CrossedFinalError) & Record<string, unknown> {
  const error = Object.assign(
    sent.nonRetryable ? new CrossedFinalError(sent.message) : new CrossedError(sent.message, sent.retryAt),
    sent.props,
  );
  Object.defineProperty(error, 'name', { value: sent.name, writable: true, configurable: true, enumerable: false });
  if (sent.stack !== undefined) error.stack = sent.stack;
  return error as (CrossedError | CrossedFinalError) & Record<string, unknown>;
}
