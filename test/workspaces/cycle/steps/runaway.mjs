export const condition = { runaway: { count: Number } };
export const content = async () => {
  data.runaway.count += 1;
  step.redo();
};
