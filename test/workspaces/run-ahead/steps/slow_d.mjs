/** Completes the task. */
export const condition = { slow: { c: true } };
export const content = async () => {
  data.slow.d = true;
  task.complete();
};
