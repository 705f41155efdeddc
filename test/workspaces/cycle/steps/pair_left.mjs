export const condition = { pair: { go: true, left: null } };
export const content = async () => {
  await new Promise((resolve) => setTimeout(resolve, 200));
  data.pair.left = 'L';
};
