/** Starts a chain whose third step fails the first time it runs. */
export const condition = { flaky: { url: String, start: true } };
export const content = async () => {
  data.flaky.a = true;
};
