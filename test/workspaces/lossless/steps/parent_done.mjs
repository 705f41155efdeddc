export const condition = { parent: Object, child: { state: String } };
export const content = async () => {
  task.complete({ child: data.child.state });
};
