export const condition = { lines: [{ sku: String, price: Number }], total: null };
export const content = async () => {
  data.total = data.lines.reduce((sum, line) => sum + line.price, 0);
};
