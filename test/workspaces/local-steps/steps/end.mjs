/** Ends the task once the other steps did their part. */
export const condition = { quick: { done: true }, long: { wanted: false }, forced: { wanted: false } };
export const content = async () => {
  task.complete();
};
