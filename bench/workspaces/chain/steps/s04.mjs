export const condition = { chain: { at: 4 } };
export const content = async () => {
  data.chain.at = 5;
};
