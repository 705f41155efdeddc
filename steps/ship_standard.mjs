/**
 * Branch by tier: everyone else ships standard.
 */
export const condition = {
  order: { status: 'fulfilled', shipping: null },
  customer: { tier: { $ne: 'premium' } },
};

export const content = async () => {
  data.order.shipping = { method: 'standard', days: 4 };
};
