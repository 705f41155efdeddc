/** Empties the data of a warm-up task: the task ends done, and the worker's step threads are started. */
export const condition = { warm: true };
export const content = async () => {
  delete data.warm;
};
