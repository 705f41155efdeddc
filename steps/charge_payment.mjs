/**
 * Charge the payment. Runs in the same cycle as reserve_inventory: both match an open order
 * and write different parts of it.
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
