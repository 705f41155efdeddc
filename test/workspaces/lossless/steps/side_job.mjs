export const condition = { sideJob: { n: Number } };
export const content = async () => {
  task.complete({ sideJob: data.sideJob.n });
};
