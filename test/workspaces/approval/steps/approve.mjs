/** The approver said yes (or a manager overrode the approval): the expense is paid. */
export const condition = {
  expense: { status: 'awaiting-approval' },
  approval: { $or: [{ approved: true }, { overriddenBy: String }] },
};

export const content = async () => {
  data.expense.status = 'paid';
  task.complete({ paid: data.expense.amount });
};
