/** A new expense asks for approval, then waits an hour before a reminder goes out. */
export const condition = { expense: { status: 'new' } };

export const content = async () => {
  data.expense.status = 'awaiting-approval';
  task.park('1h');
};
