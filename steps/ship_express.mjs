/**
 * Branch by tier: premium customers ship express.
 */
export const condition = {
  order: { status: 'fulfilled', quote: { price: Number }, shipping: null },
  customer: { tier: 'premium' },
};

export const content = async () => {
  data.order.shipping = { method: 'express', days: 1, price: data.order.quote.price };
};
