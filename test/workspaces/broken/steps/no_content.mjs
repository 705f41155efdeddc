export const condition = { order: { status: 'new' } };
