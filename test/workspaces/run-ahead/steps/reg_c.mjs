/** Local again: its activity runs the last step ahead. */
export const condition = { reg: { b: true } };
export const content = async () => {
  data.reg.c = true;
};
