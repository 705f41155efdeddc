// Several calls to the limited connector at once from one step.
export const condition = { job: { calls: Number, via: 'step' } };
export const content = async () => {
  const answers = await Promise.all(Array.from({ length: data.job.calls }, (_, n) => connectors.busy.work({ n })));
  task.complete({ answered: answers.length });
};
