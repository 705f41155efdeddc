/** Reports to a local server that it started, then waits for the task to be stopped and reports that too. */
export const condition = { slow: { report: String } };
export const options = { timeout: '60s' };
export const content = async () => {
  await fetch(`${data.slow.report}/started`, { method: 'POST' });
  await new Promise((resolve) => step.signal.addEventListener('abort', resolve, { once: true }));
  await fetch(`${data.slow.report}/aborted`, { method: 'POST' });
  data.slow.finished = true;
};
