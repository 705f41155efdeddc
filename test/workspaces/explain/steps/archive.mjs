/** Archives an approved order (never reached here). */
export const condition = { order: { status: 'approved', archived: null } };

export const content = async () => {
  data.order.archived = true;
};
