// Answers after `ms` milliseconds; no limit of its own.
export async function hold(args, context) {
  const response = await fetch(`${context.options.url}/slow?task=${encodeURIComponent(context.taskId)}&ms=${args.ms}`, {
    signal: context.signal,
  });
  if (!response.ok) throw new Error(`slow answered ${response.status}`);
  return await response.json();
}
