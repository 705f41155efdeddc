export const condition = { batch: { items: Array, started: null } };
export const content = async () => {
  data.batch.items.forEach((n, i) => {
    task.subtask(
      `item ${n}`,
      { child: { n, api: data.batch.api, fail: data.batch.failOn === n } },
      { into: `batch.results.${i}`, waitFor: true },
    );
  });
  data.batch.started = true;
};
