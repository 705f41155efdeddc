export const condition = { chain: { at: 2 } };
export const content = async () => {
  data.chain.at = 3;
};
