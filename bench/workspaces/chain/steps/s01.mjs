export const condition = { chain: { at: 1 } };
export const content = async () => {
  data.chain.at = 2;
};
