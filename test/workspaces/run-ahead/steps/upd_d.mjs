/** Runs after the chain, in an activity of its own. */
export const condition = { upd: { c: true } };
export const content = async () => {
  data.upd.d = true;
};
