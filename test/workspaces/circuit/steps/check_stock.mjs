// Asks the inventory inside the step: while the circuit is open the call fails fast and the step retries.
export const condition = { item: { sku: String, via: 'step' }, stock: null };
export const content = async () => {
  data.stock = await connectors.inventory.stock({ sku: data.item.sku });
};
