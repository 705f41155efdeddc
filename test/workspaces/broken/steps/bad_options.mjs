export const condition = { order: Object };
export const options = { priority: 'high', retry: { maximumAttempts: 0 } };
export const content = async () => {};
