export const condition = { deadline: { ms: Number, set: null } };
export const content = async () => {
  task.timeout(data.deadline.ms);
  if (data.deadline.result !== undefined) task.completeOnExpire(data.deadline.result);
  data.deadline.set = true;
};
