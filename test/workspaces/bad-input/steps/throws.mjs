export const condition = { bad: 'throw' };
export const content = async () => {
  throw new Error('the ledger is locked');
};
