/** Completes the task. */
export const condition = { reg: { c: true } };
export const content = async () => {
  data.reg.d = true;
  task.complete();
};
