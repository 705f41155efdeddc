/** First of four steps that follow one another: each matches the flag the one before set. */
export const condition = { chain: { start: true } };
export const content = async () => {
  data.chain.a = true;
  data.chain.seen = [step.name];
};
