/**
 * Branch by tier: everyone else ships standard.
 */
export const condition = {
  order: { status: 'fulfilled', quote: { price: Number }, shipping: null },
  customer: { tier: { $ne: 'premium' } },
};

export const content = async () => {
  data.order.shipping = { method: 'standard', days: 4, price: data.order.quote.price };
};
