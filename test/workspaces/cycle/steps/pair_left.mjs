export const condition = { pair: { go: true, left: null } };
export const content = async () => {
  // When this execution ran, by the worker's clock: lets a test see whether the two steps overlapped.
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 200));
  data.pair.left = 'L';
  data.pair.leftSpan = [start, Date.now()];
};
