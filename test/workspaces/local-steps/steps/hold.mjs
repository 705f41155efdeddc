/** Local by option; reports that it started, waits until it is cancelled, and reports that too. */
export const condition = { hold: { report: String } };
export const options = { timeout: '10s', retry: { maximumAttempts: 1 }, local: true };
export const content = async () => {
  await fetch(`${data.hold.report}/started`, { method: 'POST' });
  await new Promise((resolve) => step.signal.addEventListener('abort', resolve, { once: true }));
  await fetch(`${data.hold.report}/aborted`, { method: 'POST' });
  data.hold.finished = true;
};
