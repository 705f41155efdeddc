export const condition = { stock: { sku: String } };
export const content = async () => {
  task.complete({ sku: data.stock.sku, count: data.stock.count });
};
