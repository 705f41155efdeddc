export const condition = { spec: { a: 1 } };
export const content = async () => {
  data.spec.order.push('one');
};
