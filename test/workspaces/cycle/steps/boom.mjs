export const condition = { boom: { fail: true } };
export const options = { retry: { initialInterval: 50, maximumAttempts: 2 } };
export const content = async () => {
  console.log(`attempt ${step.attempt}`);
  throw new Error('payment gateway said no');
};
