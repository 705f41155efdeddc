/**
 * Types of the globals a step's content sees (`data`, `task`, `step`, `connectors`, `audit`, `lib`, `blob`),
 * published as `whenflow/step`. A workspace's tsconfig.json lists it under `compilerOptions.types`
 * (`whenflow init` writes one), and `.ts` step files type-check without declaring anything.
 *
 * They use no Node types, so a workspace type-checks without @types/node.
 *
 * Task data is schemaless JSON, so `data` and library modules are open (`any` members); a workspace can
 * narrow them by declaration merging, e.g.
 *
 *   declare global { namespace Whenflow { interface Data { order: { id: string; status: string } } } }
 */
/** What `blob.create()` returns: keep it in the data, hand it to `blob.getContent()` later. */
export interface StepBlobRef {
  blobId: string;
  size: number;
  contentType: string;
  name?: string;
}

/** A duration: milliseconds, or a string such as "30s", "2m", "1.5h". */
export type StepDuration = number | string;

export interface StepTask {
  /** The task ID: a string where a value is wanted, and callable (`task.id()`). */
  readonly id: string & (() => string);
  /** The task is `done` (with that result) after this cycle. */
  complete(result?: unknown): void;
  /** The task is `ignored`. */
  ignore(): void;
  /** The task waits on a durable timer; new data from outside wakes it early. */
  park(wait: StepDuration): void;
  name(): string;
  name(value: string): string;
  tags(): string[];
  tags(value: string[]): string[];
  /** A deadline: at expiry the task is `expired` (or `done`, with `completeOnExpire`). */
  timeout(wait: StepDuration): void;
  completeOnExpire(result?: unknown): void;
  /** Starts a child task; `into` is a dot path of this task's data that receives its result. */
  subtask(name: string, data: Record<string, unknown>, options?: { into?: string; waitFor?: boolean }): void;
  /** A value from `config:` in whenflow.yaml. */
  config<T = unknown>(key: string): T;
  visualize(visual: { type: string; name?: string; data?: unknown; options?: unknown }): void;
}

export interface StepInfo {
  readonly name: string;
  /** 1 on the first try. */
  readonly attempt: number;
  /** Aborted when the step is cancelled (its timeout, or the task stopped). */
  readonly signal: AbortSignal;
  /** This step may run again (it is otherwise eligible only once per task). */
  redo(): void;
  /** Fails the step for good: no retry, the task goes to `error` with this message. */
  fail(message: string): never;
}

export interface StepAudit {
  log(message: unknown): void;
}

export interface StepFetchResponse {
  status: number;
  statusText: string;
  ok: boolean;
  headers: Record<string, string>;
  body: unknown;
}

/** A workspace connector (`connectors/<name>.{js,mjs,ts}`): each exported function, called with one argument. */
export type StepConnectorModule = Readonly<Record<string, (args?: unknown) => Promise<unknown>>>;

export interface StepBuiltinConnectors {
  fetch(input: { url: string; options?: { method?: string; headers?: Record<string, string>; body?: string } }): Promise<StepFetchResponse>;
  utils: { sleep(input: { milliseconds?: number; ms?: number }): Promise<void> };
}

export interface StepBlob {
  create(input: { content: unknown; contentType?: string; name?: string }): StepBlobRef;
  /** A string for text and JSON; bytes (a Node `Buffer`) otherwise. */
  getContent(ref: StepBlobRef | string): string | Uint8Array;
  /** The content as a stream (a Node `Readable`). */
  stream(ref: StepBlobRef | string): Promise<AsyncIterable<Uint8Array>>;
}

/** A step's `condition`: a sift-like pattern over the task data (see docs/step-api.md). */
export type StepCondition = Record<string, unknown>;

/** A step's `options`. */
export interface StepOptions {
  priority?: number;
  timeout?: StepDuration;
  retry?: {
    initialInterval?: StepDuration;
    backoffCoefficient?: number;
    maximumInterval?: StepDuration;
    maximumAttempts?: number;
    nonRetryableErrorTypes?: string[];
  };
}

declare global {
  namespace Whenflow {
    /** The task data. Open by default; merge an interface of the same name to type known fields. */
    interface Data {
      // biome-ignore lint/suspicious/noExplicitAny: task data is schemaless JSON
      [key: string]: any;
    }
    /** `lib.<name>`: the workspace's libraries. Merge to give a library its module's type. */
    interface Libraries {
      // biome-ignore lint/suspicious/noExplicitAny: library modules are the workspace's own code
      [name: string]: any;
    }
    /** Connectors of the workspace. Merge to give a connector its module's type. */
    interface Connectors {
      [name: string]: StepConnectorModule;
    }
  }
  /** The task data; change it freely or replace it (`data = {}`). */
  var data: Whenflow.Data;
  const task: StepTask;
  const step: StepInfo;
  const connectors: StepBuiltinConnectors & Whenflow.Connectors;
  const audit: StepAudit;
  const lib: Whenflow.Libraries;
  const blob: StepBlob;
}
