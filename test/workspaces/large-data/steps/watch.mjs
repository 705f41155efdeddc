// Runs in the same cycles as `count`, on the same snapshot: it must see the counter before count's write.
export const condition = { blob: String, watching: true };

export const content = async () => {
  data.seen = [...data.seen, data.counter];
  if (data.counter < 4) {
    step.redo();
    return;
  }
  task.complete({ seen: data.seen, blobLength: data.blob.length, blobEnd: data.blob.slice(-4) });
};
