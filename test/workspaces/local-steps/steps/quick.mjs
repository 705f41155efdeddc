/** A short step (timeout 5 s: local by default) that fails its first attempt and succeeds on the second. */
export const condition = { quick: { done: { $exists: false } } };
export const options = { timeout: '5s', retry: { initialInterval: '100ms', maximumAttempts: 3 }, local: true };
export const content = async () => {
  if (step.attempt === 1) throw new Error('first attempt fails on purpose');
  data.quick.done = true;
  data.quick.attempt = step.attempt;
};
