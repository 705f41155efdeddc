/** Asks for approval of a new order; the approval is recorded at `approval`. */
export const condition = { order: { status: 'new', id: Number } };

export const content = async () => {
  data.order.status = 'awaiting-approval';
  data.approval = { approved: true, by: 'desk' };
};
