export const condition = { approval: { approved: true } };
export const content = async () => {
  task.complete('approved');
};
