export const condition = { order: { total: (x) => x > 5 }, tags: { $foo: 1 } };
export const content = async () => {};
