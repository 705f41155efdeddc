// Hands the item to a subtask that asks the inventory itself (for traces across parent and child).
export const condition = { item: { sku: String, via: 'subtask' }, child: null };
export const content = async () => {
  task.subtask('stock check', { item: { sku: data.item.sku, via: 'step' } }, { into: 'child', waitFor: true });
};
