export const condition = { chain: { at: 5 } };
export const content = async () => {
  data.chain.at = 6;
};
