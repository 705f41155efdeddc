/** Runs in an activity of its own. */
export const condition = { slow: { b: true } };
export const content = async () => {
  data.slow.c = true;
};
