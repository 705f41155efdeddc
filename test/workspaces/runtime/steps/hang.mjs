export const condition = { hang: true };
export const options = { timeout: 300, retry: { initialInterval: 50, maximumAttempts: 2 } };
export const content = async () => {
  await new Promise(() => {});
};
