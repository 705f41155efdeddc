/** Declared a regular activity: the step before it does not run it ahead. */
export const condition = { reg: { a: true } };
export const options = { local: false };
export const content = async () => {
  data.reg.b = true;
};
