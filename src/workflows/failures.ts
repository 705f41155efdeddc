import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { CatalogStep, TaskError } from '../model/task';

/** Turns the failure of a step activity (after its last retry) into the task's error record. */
export function describeStepFailure(step: CatalogStep, failure: unknown): TaskError {
  const cause = failure instanceof ActivityFailure && failure.cause ? failure.cause : failure;
  const attempts = attemptsOf(cause) ?? step.retry.maximumAttempts;
  if (cause instanceof TimeoutFailure) {
    return {
      step: step.name,
      message: `step timed out after ${step.timeoutMs} ms (${cause.timeoutType})`,
      attempts,
      reason: 'step-failed',
    };
  }
  const error = cause instanceof Error ? cause : new Error(String(cause));
  return {
    step: step.name,
    message: error.message,
    ...(error.stack ? { stack: error.stack } : {}),
    attempts,
    reason: 'step-failed',
  };
}

/** The step activity attaches `{ attempt }` to every failure it reports. */
function attemptsOf(cause: unknown): number | undefined {
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const detail: unknown = cause.details?.[0];
  if (typeof detail === 'object' && detail !== null && 'attempt' in detail && typeof detail.attempt === 'number') return detail.attempt;
  return undefined;
}
