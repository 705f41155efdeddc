// A workspace connector: looks a contact up on the CRM server given in the arguments.
export async function find(args, context) {
  const response = await fetch(`${args.api}/crm/find?email=${encodeURIComponent(args.email)}`, {
    headers: { 'idempotency-key': context.idempotencyKey },
    signal: context.signal,
  });
  if (!response.ok) throw new Error(`CRM answered ${response.status}`);
  return response.json();
}
