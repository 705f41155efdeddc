/** Bad input from the user: exit code 2, message on stderr. Anything else is an infrastructure failure: exit 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
