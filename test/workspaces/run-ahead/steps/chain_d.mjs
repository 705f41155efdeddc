/** Last of the chain: completes the task (a command, so nothing runs after it). */
export const condition = { chain: { c: true } };
export const content = async () => {
  data.chain.d = true;
  data.chain.seen.push(step.name);
  task.complete({ seen: data.chain.seen });
};
