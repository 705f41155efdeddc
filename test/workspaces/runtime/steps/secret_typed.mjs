// Matches on the type of sealed secrets only: their values are never visible to the workflow.
export const condition = { $stash: { session: String, apiKey: String }, secretCall: { done: true } };
export const content = async () => {
  task.complete(`session of length ${data.$stash.session.length}`);
};
