export const condition = { rename: String };
export const content = async () => {
  const before = task.name();
  task.name(data.rename);
  task.tags(['renamed', before]);
  audit.log(`renamed from ${before}`);
  task.visualize({ type: 'table', name: 'totals', data: { rows: [[1, 2]] } });
  data.renamedFrom = before;
  data.taskId = task.id();
  delete data.rename;
};
