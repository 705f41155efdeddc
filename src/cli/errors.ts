import type { TaskState } from '../model/task';
import { WhenflowError, brandError } from '../model/errors';

/** Bad input from the user: exit code 2, message on stderr. Anything else is an infrastructure failure: exit 1. */
export class UsageError extends WhenflowError {
  static {
    brandError(UsageError, 'UsageError');
  }

  constructor(message: string) {
    super(message);
  }
}

/**
 * Exit codes, the same for every command. For commands that wait for a task (`run`, `task new --wait`):
 * 0 done or ignored, 1 error, expired or stopped, 3 attention or not yet settled.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, pending: 3 } as const;

/** The exit code a command that waited for a task ends with. */
export function exitCodeForTask(state: TaskState): number {
  switch (state) {
    case 'done':
    case 'ignored':
      return EXIT.ok;
    case 'error':
    case 'expired':
    case 'stopped':
      return EXIT.failure;
    default:
      return EXIT.pending;
  }
}
