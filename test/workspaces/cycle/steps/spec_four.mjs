export const condition = { spec: { a: 1, b: 2, c: 3, d: 4 } };
export const content = async () => {
  data.spec.order.push('four');
};
