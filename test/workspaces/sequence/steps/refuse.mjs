export const condition = { log: Array, refuse: true };
export const options = { retry: { maximumAttempts: 1 } };
export const content = async () => {
  throw new Error('refused on purpose');
};
