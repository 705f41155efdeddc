/**
 * Any other ticket joins the support queue.
 */
export const condition = { ticket: { priority: 'normal', assignee: { $exists: false } } };

export const content = async () => {
  data.ticket.assignee = 'support-queue';
};
