/** Second of the chain. */
export const condition = { chain: { a: true } };
export const content = async () => {
  data.chain.b = true;
  data.chain.seen.push(step.name);
};
