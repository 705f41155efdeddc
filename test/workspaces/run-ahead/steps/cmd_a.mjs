/** Starts a chain whose second step gives a command. */
export const condition = { cmd: { start: true } };
export const content = async () => {
  data.cmd.a = true;
};
