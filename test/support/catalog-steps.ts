import { compileCondition } from '../../src/conditions';
import type { CatalogStep } from '../../src/model/task';

/** A catalog step with the given condition: one attempt, a short timeout, a file named after the step. */
export const catalogStep = (name: string, condition: object, priority = 0): CatalogStep => ({
  name,
  file: `steps/${name}.mjs`,
  condition: compileCondition(condition),
  priority,
  timeoutMs: 1000,
  retry: { initialIntervalMs: 1, backoffCoefficient: 2, maximumAttempts: 1, nonRetryableErrorTypes: [] },
});
