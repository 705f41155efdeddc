import { ConnectorError } from '../connectors';
import { CircuitOpenError } from '../connectors/circuit';
import { DataLimitError } from '../runtime/execute';
import { StashError } from '../runtime/stash';
import { isFinalStepError, StepUsageError } from '../runtime/step-api';
import { DataValueError } from '../runtime/to-json';
import { WorkspaceError } from '../steps/step-files';
import { InvalidWorkspaceError } from '../workspace/workspace';

export interface AttemptVerdict {
  /** Retrying cannot help: the task goes to `error` at once. */
  nonRetryable: boolean;
  /** When an open circuit lets its probe through (ms since the epoch): the retry waits for it. */
  retryAt: number | null;
}

/**
 * Verdicts of errors that crossed from another thread, where their class was known. Step content that
 * catches such an error and throws it again keeps its verdict.
 */
const crossed = new WeakMap<Error, AttemptVerdict>();

export function rememberVerdict(error: Error, verdict: AttemptVerdict): void {
  crossed.set(error, verdict);
}

/** Errors that fail the same way on every retry: retrying them only delays the task's error state. */
export function attemptVerdict(error: Error): AttemptVerdict {
  const known = crossed.get(error);
  if (known) return known;
  const nonRetryable =
    error instanceof DataValueError ||
    error instanceof WorkspaceError ||
    error instanceof InvalidWorkspaceError ||
    error instanceof StepUsageError ||
    error instanceof ConnectorError ||
    error instanceof StashError ||
    error instanceof DataLimitError ||
    isFinalStepError(error);
  return { nonRetryable, retryAt: error instanceof CircuitOpenError ? error.retryAt : null };
}
