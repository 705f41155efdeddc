export const condition = { chain: { at: 6 } };
export const content = async () => {
  data.chain.at = 7;
};
