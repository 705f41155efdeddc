// A workspace connector for a local test service: every call is a real HTTP request.
async function post(args, context, path) {
  const response = await fetch(`${args.api}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': context.idempotencyKey },
    body: JSON.stringify(args),
    signal: context.signal,
  });
  if (!response.ok) throw new Error(`service answered ${response.status} on ${path}`);
  return response.json();
}
export const send = (args, context) => post(args, context, '/send');
export const slow = (args, context) => post(args, context, '/slow');
export const broken = (args, context) => post(args, context, '/broken');
export const quote = (args, context) => post(args, context, '/quote');
export const check = (args, context) => post(args, context, '/check');
