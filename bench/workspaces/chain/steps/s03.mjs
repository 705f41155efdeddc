export const condition = { chain: { at: 3 } };
export const content = async () => {
  data.chain.at = 4;
};
