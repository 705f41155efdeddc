export const condition = { spec: { a: 1, b: 2 } };
export const content = async () => {
  data.spec.order.push('two');
};
