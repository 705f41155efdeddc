/** Third of the chain. */
export const condition = { chain: { b: true } };
export const content = async () => {
  data.chain.c = true;
  data.chain.seen.push(step.name);
};
