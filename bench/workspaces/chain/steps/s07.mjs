export const condition = { chain: { at: 7 } };
export const content = async () => {
  data.chain.at = 8;
};
