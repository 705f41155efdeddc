export const condition = { chain: { at: 10 } };
export const content = async () => {
  data.chain.at = 11;
  task.complete();
};
