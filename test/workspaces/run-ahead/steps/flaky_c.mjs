/** Asks the test's server whether to fail (it says so the first time): no retry, so only a second execution passes. */
export const condition = { flaky: { b: true } };
export const options = { retry: { maximumAttempts: 1 } };
export const content = async () => {
  const answer = await lib.http.ask(`${data.flaky.url}/${step.name}`);
  if (answer !== 'ok') throw new Error(`the server said ${answer}`);
  data.flaky.c = true;
  data.flaky.attempt = step.attempt;
};
