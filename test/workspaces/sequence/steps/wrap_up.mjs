/** Only ever chosen by the condition cycle: a sequence that does not list it never runs it. */
export const condition = { log: Array, wrapped: null };
export const content = async () => {
  data.wrapped = true;
  task.complete({ log: data.log });
};
