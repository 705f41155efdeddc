/** A refused expense goes to a manager (no scenario refuses one). */
export const condition = { expense: { status: 'awaiting-approval' }, approval: { approved: false } };

export const content = async () => {
  data.expense.status = 'escalated';
};
