export const condition = { parent: { api: String }, child: null };
export const content = async () => {
  task.subtask('fragile child', { fragile: { api: data.parent.api } }, { into: 'child', waitFor: true });
};
