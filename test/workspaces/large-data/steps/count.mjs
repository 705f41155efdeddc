// Advances a small counter in large data, once per cycle, until it reaches 4.
export const condition = { blob: String, counter: { $lt: 4 } };

export const content = async () => {
  data.counter += 1;
  step.redo();
};
