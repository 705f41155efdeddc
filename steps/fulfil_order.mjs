/**
 * Coordination: waits for both the payment and the reservation, whichever finishes last.
 */
export const condition = {
  order: { payment: { charged: true }, inventory: { reserved: true }, status: 'open' },
};

export const content = async () => {
  data.order.status = 'fulfilled';
};
