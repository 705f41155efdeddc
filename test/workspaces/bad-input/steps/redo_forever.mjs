export const condition = { bad: 'redo', n: Number };
export const content = async () => {
  data.n += 1;
  step.redo();
};
