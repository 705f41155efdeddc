/**
 * Reserve stock for every item with a SKU.
 */
export const condition = {
  order: { status: 'open', items: [{ sku: String }] },
};

export const content = async () => {
  const skus = data.order.items.map((item) => item.sku);
  console.log(`reserving ${skus.join(', ')}`);
  data.order.inventory = { reserved: true, skus };
};
