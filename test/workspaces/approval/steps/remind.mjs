/** An hour later, still no answer: remind the approver once. */
export const condition = { expense: { status: 'awaiting-approval', reminded: null }, approval: null };

export const content = async () => {
  data.expense.reminded = true;
};
