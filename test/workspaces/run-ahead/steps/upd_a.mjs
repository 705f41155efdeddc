/** Starts a chain whose third step holds until the test's server answers. */
export const condition = { upd: { url: String, start: true } };
export const content = async () => {
  data.upd.a = true;
};
