export const condition = { healthy: true };
export const content = async () => {
  task.complete('healthy');
};
