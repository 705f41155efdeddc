export const condition = { pair: { left: String, right: String } };
export const content = async () => {
  task.complete(`${data.pair.left}+${data.pair.right}`);
};
