/** Runs after the command, in an activity of its own. */
export const condition = { cmd: { b: true } };
export const content = async () => {
  data.cmd.c = true;
};
