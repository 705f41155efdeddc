export const condition = { clash: { mode: 'race' } };
export const content = async () => {
  data.clash.winner = 'low';
  data.clash.lowRan = true;
};
