export const condition = { child: { state: 'done' } };
export const content = async () => {
  task.complete(data.child.result);
};
