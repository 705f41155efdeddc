/** Starts a chain whose second step takes longer than running ahead may. */
export const condition = { slow: { start: true } };
export const content = async () => {
  data.slow.a = true;
};
