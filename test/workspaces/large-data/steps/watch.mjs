// Runs in the same batches as `count` (concurrency 2), on the same snapshot: it must see the counter before
// count's write. It ranks first, so merging both is the outcome of running it first.
export const condition = { blob: String, watching: true };
export const options = { priority: 1 };

export const content = async () => {
  data.seen = [...data.seen, data.counter];
  if (data.counter < 4) {
    step.redo();
    return;
  }
  task.complete({ seen: data.seen, blobLength: data.blob.length, blobEnd: data.blob.slice(-4) });
};
