export const condition = { bad: 'connector' };
export const content = async () => {
  await connectors.ledgr.post({ amount: 1 });
};
