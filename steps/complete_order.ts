/**
 * Finish: once the order is shipped and the customer notified, the task is done with a short receipt.
 */
declare const data: { order: { id: string; shipping: { method: string; days: number; price: number } } };
declare const task: { complete(result?: unknown): void };

export const condition = {
  order: { status: 'fulfilled', shipping: { method: String }, notified: true },
};

export const options = { priority: 0, timeout: '10s' };

export const content = async (): Promise<void> => {
  const { id, shipping } = data.order;
  task.complete({ orderId: id, shipping: shipping.method, arrivesInDays: shipping.days, price: shipping.price });
};
