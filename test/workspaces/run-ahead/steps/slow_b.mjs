/** Takes 1.1 s: past the time running ahead may take, so nothing runs after it in this activity. */
export const condition = { slow: { a: true } };
export const content = async () => {
  await new Promise((resolve) => setTimeout(resolve, 1100));
  data.slow.b = true;
};
