import type { JsonObject } from '../model/json';
import { FinalError, brandError } from '../model/errors';

/** What a connector method is given besides its arguments: who is calling, and how to stop. */
export interface ConnectorContext {
  taskId: string;
  step: string;
  /** Attempt of the step (or deferred-call) activity, from 1. */
  attempt: number;
  /** Stable across retries of the same step execution and call; differs between calls. Send it to APIs that deduplicate. */
  idempotencyKey: string;
  /** Aborted when the activity is cancelled or times out; long-running methods must honour it. */
  signal: AbortSignal;
  /** Worker-side options for this connector (configuration, never task data). */
  options: JsonObject;
  /**
   * Hides the task's secrets (`$stash` values, `config:` values marked secret) in a text, as whenflow does
   * in errors, logs and spans. Use it before writing anything about the call to a log of your own.
   */
  maskSecrets?: (text: string) => string;
}

export type ConnectorMethod = (args: JsonObject, context: ConnectorContext) => Promise<unknown>;

export interface Connector {
  name: string;
  methods: Record<string, ConnectorMethod>;
  /** `'builtin'`, or the connector's file relative to the workspace, e.g. `connectors/crm.ts`. */
  source: 'builtin' | string;
  /** The method that runs when the connector itself is called, e.g. `connectors.fetch({ url, options })`. */
  callable?: string;
}

/** The call a guard wraps: which connector and method, for whom. */
export interface GuardedCall {
  connector: string;
  method: string;
  /** `'builtin'` or the connector's file: built-ins reach arbitrary hosts, so their circuits are off unless configured. */
  source: Connector['source'];
  context: ConnectorContext;
}

/**
 * Worker-wide concerns wrapped around every connector call that is actually made (not around calls
 * rejected as written): circuit breakers, metrics, spans. `invoke` sends the call.
 */
export interface ConnectorCallGuard {
  run(call: GuardedCall, invoke: () => Promise<unknown>): Promise<unknown>;
}

/** One thing wrong with a workspace connector file; the file is skipped, the rest still load. */
export interface ConnectorProblem {
  file: string;
  connector: string;
  message: string;
}

/**
 * Raw `export const retry` / `export const timeout` of a workspace connector module. Applies to deferred
 * calls (`into`), which run as their own activity; the engine validates them and resolves them into the model's
 * `ConnectorPolicy` (src/model/task.ts).
 */
export interface RawConnectorPolicy {
  retry?: unknown;
  timeout?: unknown;
}

/**
 * A call that cannot be made as written: unknown connector or method, bad arguments, bad `into`.
 * Thrown before anything is sent, so retrying the same call cannot help.
 */
export class ConnectorError extends FinalError {
  static {
    brandError(ConnectorError, 'ConnectorError');
  }

  readonly connector: string;
  readonly method: string;
  /** The offending argument (dot path; `into` for a bad deferral target), when one is to blame. */
  readonly field: string | undefined;

  constructor(connector: string, method: string, message: string, field?: string) {
    super(`connectors.${connector}.${method}: ${message}`);
    this.connector = connector;
    this.method = method;
    this.field = field;
  }
}

/** A connector answered a step's call with something that is not plain data (a function, a class instance…): the same on every retry. */
export class ConnectorResultError extends FinalError {
  static {
    brandError(ConnectorResultError, 'ConnectorResultError');
  }
}
