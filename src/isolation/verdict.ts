import { CircuitOpenError } from '../connectors/circuit';
import { isFinalError } from '../model/errors';
import { CrossedError } from './protocol';

export interface AttemptVerdict {
  /** Retrying cannot help: the task goes to `error` at once. */
  nonRetryable: boolean;
  /** When an open circuit lets its probe through (ms since the epoch): the retry waits for it. */
  retryAt: number | null;
}

/**
 * What the engine decides about a failed attempt, read from the error's class (docs/failures.md#errors):
 * a FinalError (or a mistake in code, or an error marked `final: true`) is not retried. An error that
 * crossed from another thread carries the verdict it was given there.
 */
export function attemptVerdict(error: Error): AttemptVerdict {
  const retryAt = error instanceof CircuitOpenError ? error.retryAt : error instanceof CrossedError ? error.verdictRetryAt : null;
  return { nonRetryable: isFinalError(error), retryAt };
}
