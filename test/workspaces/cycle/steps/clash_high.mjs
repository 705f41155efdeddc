export const condition = { clash: { go: true } };
export const options = { priority: 5 };
export const content = async () => {
  data.clash.winner = 'high';
};
