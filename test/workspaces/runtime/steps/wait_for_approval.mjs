export const condition = { approval: { approved: null, asked: null } };
export const content = async () => {
  data.approval.asked = true;
  task.park('1h');
};
