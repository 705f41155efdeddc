/** Second of the chain. */
export const condition = { upd: { a: true } };
export const content = async () => {
  data.upd.b = true;
};
