export const condition = { seq: { stage: 'c' } };
export const content = async () => {
  task.complete({ stages: 3 });
};
