/**
 * A mail server that is busy the first time it hears of a recipient (in this worker process), so the
 * sample shows the retry-with-park pattern. A real connector would call an SMTP or HTTP API here and
 * pass `context.idempotencyKey` along so a retried send is not delivered twice.
 */
const seen = new Set();

export async function send({ to, subject }, context) {
  if (!seen.has(to)) {
    seen.add(to);
    throw new Error('mail server busy, try again later');
  }
  return { accepted: [to], subject, id: `msg-${context.idempotencyKey.slice(0, 8)}` };
}
