export const condition = { bad: 'hang' };
export const options = { timeout: '300ms', retry: { initialInterval: 50, maximumAttempts: 2 } };
export const content = async () => {
  await new Promise(() => {});
};
