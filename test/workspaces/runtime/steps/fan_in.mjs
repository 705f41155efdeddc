export const condition = { batch: { started: true, results: Object } };
export const content = async () => {
  const results = Object.values(data.batch.results);
  task.complete({
    count: results.length,
    states: [...new Set(results.map((r) => r.state))],
    sum: results.reduce((s, r) => s + (r.result ?? 0), 0),
  });
};
