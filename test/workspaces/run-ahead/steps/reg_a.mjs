/** Starts a chain whose second step is a regular activity. */
export const condition = { reg: { start: true } };
export const content = async () => {
  data.reg.a = true;
};
