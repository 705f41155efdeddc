/** Redoes itself, parked briefly each time, until it has run `upto` times: a long task in many runs. */
export const condition = { loop: { n: Number, upto: Number } };
export const content = async () => {
  data.loop.n += 1;
  if (data.loop.n >= data.loop.upto) return task.complete({ n: data.loop.n });
  step.redo();
  task.park(data.loop.pauseMs ?? 0);
};
