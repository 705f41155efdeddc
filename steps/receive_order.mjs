/**
 * Receive a new order: it has items, so it is opened for payment and stock.
 */
export const condition = {
  order: { status: 'new', items: Array },
};

export const content = async () => {
  console.log(`received order ${data.order.id} with ${data.order.items.length} item(s)`);
  data.order.status = 'open';
  data.order.receivedAt = new Date();
};
