export const condition = { pair: { go: true, right: null } };
export const content = async () => {
  await new Promise((resolve) => setTimeout(resolve, 200));
  data.pair.right = 'R';
};
