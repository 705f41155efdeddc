// Reports a call to the test's HTTP server given in the arguments, and returns its answer.
export async function hit(args, context) {
  const response = await fetch(`${args.url}/${args.what}?task=${encodeURIComponent(context.taskId)}`, { signal: context.signal });
  if (!response.ok) throw new Error(`probe answered ${response.status}`);
  return await response.json();
}
