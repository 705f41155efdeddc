export const condition = { chain: { at: 8 } };
export const content = async () => {
  data.chain.at = 9;
};
