/**
 * Charge the payment. Matches an open order together with pick_items; it ranks first (its condition
 * is more specific), so it runs first, and pick_items runs next on the data it left.
 */
export const condition = {
  order: { status: 'open', payment: { method: String, amount: { $gt: 0 } } },
};

export const content = async () => {
  const { method, amount } = data.order.payment;
  console.log(`charging ${amount} by ${method}`);
  data.order.payment.charged = true;
  data.order.payment.transactionId = `tx-${data.order.id}`;
};
