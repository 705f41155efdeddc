/** Completes the task once the chain ran and the update from outside arrived. */
export const condition = { upd: { d: true, fromOutside: String } };
export const content = async () => {
  task.complete({ fromOutside: data.upd.fromOutside });
};
