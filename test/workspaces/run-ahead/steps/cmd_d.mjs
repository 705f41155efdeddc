/** Completes the task. */
export const condition = { cmd: { c: true } };
export const content = async () => {
  data.cmd.d = true;
  task.complete();
};
