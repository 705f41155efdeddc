// A service that should not get more than `maxConcurrent` requests at once.
export async function work(args, context) {
  const response = await fetch(`${context.options.url}/busy?task=${encodeURIComponent(context.taskId)}&n=${args.n}`, {
    signal: context.signal,
  });
  if (!response.ok) throw new Error(`busy answered ${response.status}`);
  return await response.json();
}
