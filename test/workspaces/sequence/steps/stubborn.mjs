/** Ignores cancellation: a stop must not wait for it, and its changes must not land. */
export const condition = { stubborn: { report: String } };
export const options = { timeout: '60s' };
export const content = async () => {
  await fetch(`${data.stubborn.report}/started`, { method: 'POST' });
  await new Promise((resolve) => setTimeout(resolve, 4000));
  data.stubborn.finished = true;
};
