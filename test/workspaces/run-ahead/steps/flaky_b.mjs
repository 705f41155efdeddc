/** Second of the chain. */
export const condition = { flaky: { a: true } };
export const content = async () => {
  data.flaky.b = true;
};
