export const condition = { seq: { stage: 'b' } };
export const content = async () => {
  data.seq.stage = 'c';
};
