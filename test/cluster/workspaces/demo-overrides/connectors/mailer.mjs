/**
 * The demo workspace's mailer, sending through a real mail service over HTTP (the cluster test runs
 * one on 127.0.0.1). The service is busy the first time it hears of a recipient, whichever worker
 * process asks, so every task takes the demo's park-and-redo path exactly once. The idempotency key
 * goes along so a send retried after a worker died is delivered once.
 */
export async function send({ to, subject }, context) {
  const response = await fetch(new URL('/send', context.options.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ to, subject, key: context.idempotencyKey }),
    signal: context.signal,
  });
  if (response.status === 503) throw new Error('mail server busy, try again later');
  if (!response.ok) throw new Error(`mail service answered ${response.status}`);
  return response.json();
}
