export const condition = { order: { status: 'new' } };
export const content = async () => {};
