import { circuitSettingsFor, type CallOutcome, type CircuitBoard, type CircuitSettings } from './circuit';
import type { ConnectorLimits } from './limits';
import { ConnectorError, type ConnectorCallGuard, type GuardedCall } from './types';

/** Statuses outside 5xx that still say the service is struggling rather than that the request was wrong. */
const OVERLOADED_STATUSES = new Set([408, 429]);

function statusOf(value: unknown): number | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { status, statusCode } = value as { status?: unknown; statusCode?: unknown };
  if (typeof status === 'number') return status;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

/**
 * What a call's end says about the connector's health. A 4xx is the caller's fault (the connector
 * answered), except 408 and 429; a call the caller cancelled, or one rejected before sending, says nothing.
 */
export function outcomeOfError(error: unknown, call: GuardedCall): CallOutcome {
  if (error instanceof ConnectorError || call.context.signal.aborted) return 'neutral';
  const status = statusOf(error);
  if (status !== undefined && status >= 400 && status < 500 && !OVERLOADED_STATUSES.has(status)) return 'success';
  return 'failure';
}

/** The built-in `fetch` returns non-2xx responses instead of throwing; a 5xx answer is still a failing service. */
export function outcomeOfResult(value: unknown, call: GuardedCall): CallOutcome {
  if (call.source !== 'builtin' || call.connector !== 'fetch') return 'success';
  const status = statusOf(value);
  return status !== undefined && (status >= 500 || OVERLOADED_STATUSES.has(status)) ? 'failure' : 'success';
}

/**
 * Circuit breaking for one reading of the workspace configuration, on the worker's board: a call to a
 * connector whose circuit is open throws CircuitOpenError without reaching it.
 */
export function circuitGuard(
  board: CircuitBoard,
  configured: (connector: string) => CircuitSettings | false | undefined,
): ConnectorCallGuard {
  return {
    async run(call, invoke) {
      const settings = circuitSettingsFor(configured(call.connector), call.source === 'builtin');
      if (!settings) return invoke();
      const ticket = board.admit(call.connector, call.method, settings);
      if (ticket instanceof Error) throw ticket;
      let value: unknown;
      try {
        value = await invoke();
      } catch (error) {
        board.settle(ticket, outcomeOfError(error, call), error instanceof Error ? error.message : String(error));
        throw error;
      }
      const outcome = outcomeOfResult(value, call);
      board.settle(ticket, outcome, outcome === 'failure' ? `answered with status ${statusOf(value)}` : undefined);
      return value;
    },
  };
}

/**
 * Concurrency limits for one reading of the workspace configuration, on the worker's limits: a call to a
 * connector with `maxConcurrent` calls in flight waits for a slot (FIFO); a call whose step is cancelled
 * while waiting is never sent.
 */
export function concurrencyGuard(limits: ConnectorLimits, configured: (connector: string) => number | undefined): ConnectorCallGuard {
  return {
    run(call, invoke) {
      return limits.run(call.connector, configured(call.connector), call.context.signal, invoke);
    },
  };
}

/** Guards applied outermost first: `chainGuards(a, b)` runs `a` around `b` around the call. */
export function chainGuards(...guards: ConnectorCallGuard[]): ConnectorCallGuard {
  return {
    run(call, invoke) {
      const run = guards.reduceRight<() => Promise<unknown>>((inner, guard) => () => guard.run(call, inner), invoke);
      return run();
    },
  };
}
