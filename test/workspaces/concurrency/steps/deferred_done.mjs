export const condition = { answer: { ok: true } };
export const content = async () => {
  task.complete({ answered: 1 });
};
