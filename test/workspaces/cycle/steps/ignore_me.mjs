export const condition = { spam: true };
export const content = async () => {
  task.ignore();
};
