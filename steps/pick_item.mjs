/**
 * Runs in each picking subtask: takes the item from its bin.
 */
export const condition = {
  pick: { sku: String, quantity: Number },
};

export const content = async () => {
  const { sku, quantity } = data.pick;
  console.log(`picking ${quantity} × ${sku}`);
  task.complete({ sku, quantity, bin: `bin-${sku.length}` });
};
