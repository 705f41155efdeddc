export const condition = { finishWith: { kind: 'subtask' } };
export const content = async () => {
  task.subtask('side job', { sideJob: { n: 1 } });
  task.complete('spawned');
};
