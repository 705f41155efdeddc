// Tells the test's local HTTP server that a step execution began or ended, and in which worker process:
// the server counts how often step content really ran (at least once), independent of the task data.
export async function mark(args, context) {
  const response = await fetch(`${context.options.url}/mark`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...args, taskId: context.taskId, step: context.step, attempt: context.attempt, pid: process.pid }),
    signal: context.signal,
  });
  if (!response.ok) throw new Error(`probe answered ${response.status}`);
  return null;
}
