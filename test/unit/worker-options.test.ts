import { describe, expect, it } from 'vitest';
import { createTaskWorker } from '../../src/worker';

describe('createTaskWorker options', () => {
  it.each([0, -1, 1.5, Number.NaN])('refuses maxConcurrentSteps %s before connecting, naming the option', async (maxConcurrentSteps) => {
    // No server is needed: the options are checked before the worker is created.
    const created = createTaskWorker({ connection: undefined as never, namespace: 'default', workspace: '.', maxConcurrentSteps });
    await expect(created).rejects.toThrow(RangeError);
    await expect(created).rejects.toThrow(`maxConcurrentSteps must be a whole number ≥ 1; got ${maxConcurrentSteps}`);
  });
});
