export const condition = { seq: { stage: 'a' } };
export const content = async () => {
  data.seq.stage = 'b';
};
