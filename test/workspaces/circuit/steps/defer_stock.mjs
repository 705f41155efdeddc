// Asks the inventory as a deferred call: the call's own retry policy waits an open circuit out.
export const condition = { item: { sku: String, via: 'deferred' }, stock: null, asked: null };
export const content = async () => {
  connectors.inventory.stock({ sku: data.item.sku, into: 'stock' });
  data.asked = true;
};
