/** The approver said yes: the expense is paid. */
export const condition = { expense: { status: 'awaiting-approval' }, approval: { approved: true } };

export const content = async () => {
  data.expense.status = 'paid';
  task.complete({ paid: data.expense.amount });
};
