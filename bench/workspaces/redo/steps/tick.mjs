// P4: one step that redoes itself, advancing a small counter inside large data, until it reaches its target.
export const condition = { loop: { n: Number, target: Number } };

export const content = async () => {
  data.loop.n += 1;
  if (data.loop.n >= data.loop.target) task.complete({ n: data.loop.n, records: data.records.length });
  else step.redo();
};
