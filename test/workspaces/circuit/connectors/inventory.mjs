// The inventory service: any answer other than 2xx is a failure (thrown), which the circuit counts.
export async function stock(args, context) {
  const response = await fetch(`${context.options.url}/stock/${encodeURIComponent(args.sku)}?task=${encodeURIComponent(context.taskId)}`, {
    signal: context.signal,
  });
  if (!response.ok) throw new Error(`inventory answered ${response.status}`);
  return await response.json();
}
