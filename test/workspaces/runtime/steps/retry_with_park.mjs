// The retry-with-delay pattern: park, then run this step again.
export const condition = { flaky: { url: String, done: null, failed: null } };
export const content = async () => {
  try {
    await connectors.fetch.request({ url: data.flaky.url, throwOnError: true });
    data.flaky.done = true;
  } catch {
    data.flaky.attempts = (data.flaky.attempts ?? 0) + 1;
    if (data.flaky.attempts < 3) {
      task.park(200);
      step.redo();
    } else {
      data.flaky.failed = true;
    }
  }
};
