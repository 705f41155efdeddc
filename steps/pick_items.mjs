/**
 * A batch of subtasks: one picking task per item, run side by side, all ended before the order moves on (waitFor).
 * Every item must have a sku (an array of object patterns matches when every element matches).
 * Each subtask's outcome lands at order.picked.<index>.
 */
export const condition = {
  order: { status: 'open', items: [{ sku: String }], picking: null },
};

export const content = async () => {
  data.order.items.forEach((item, index) => {
    task.subtask(
      `pick ${item.sku}`,
      { pick: { sku: item.sku, quantity: item.quantity } },
      { into: `order.picked.${index}`, waitFor: true },
    );
  });
  data.order.picking = true;
};
