import { createHash } from 'node:crypto';

/** A key that is the same for every retry of the same step execution (or deferred call) and call, and differs between calls. */
export function idempotencyKey(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
}
