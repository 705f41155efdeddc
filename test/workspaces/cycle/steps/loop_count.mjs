export const condition = { loop: { n: Number, until: Number } };
export const content = async () => {
  data.loop.n += 1;
  if (data.loop.n < data.loop.until) step.redo();
  else task.complete({ n: data.loop.n });
};
