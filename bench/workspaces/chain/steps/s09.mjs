export const condition = { chain: { at: 9 } };
export const content = async () => {
  data.chain.at = 10;
};
