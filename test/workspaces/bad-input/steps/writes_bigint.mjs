export const condition = { bad: 'bigint' };
export const content = async () => {
  data.ledger = { entries: [{ amount: 12345678901234567890n }] };
};
