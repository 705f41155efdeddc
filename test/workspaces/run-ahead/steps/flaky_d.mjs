/** Completes the task. */
export const condition = { flaky: { c: true } };
export const content = async () => {
  data.flaky.d = true;
  task.complete();
};
