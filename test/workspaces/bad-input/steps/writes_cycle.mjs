export const condition = { bad: 'cycle' };
export const content = async () => {
  const node = { name: 'root' };
  node.children = [{ parent: node }];
  data.tree = node;
};
