import { createServer, type Server } from 'node:http';
import { z } from 'zod';

const SendRequest = z.object({ to: z.string().min(1), subject: z.string(), key: z.string().min(1) });

/**
 * A mail service on 127.0.0.1 that keeps what it delivered. The first send for a recipient (by its
 * idempotency key, so every retry of that same send gets the same answer) is refused as busy; any later
 * send is delivered once per key, and a repeated key is answered with the earlier delivery.
 */
export class MailServer {
  private server: Server | null = null;
  url = '';
  /** The idempotency key of the send that was refused as busy, per recipient. */
  readonly busyKey = new Map<string, string>();
  /** Delivered messages per recipient: key and subject. */
  readonly delivered = new Map<string, { key: string; subject: string }[]>();
  requests = 0;
  repeatedKeys = 0;
  private readonly byKey = new Map<string, { id: string; accepted: string[]; subject: string }>();

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        this.requests += 1;
        const parsed = request.method === 'POST' && request.url === '/send' ? SendRequest.safeParse(safeJson(body)) : null;
        if (!parsed?.success) {
          response
            .writeHead(400, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: 'POST /send with { to, subject, key }' }));
          return;
        }
        const { to, subject, key } = parsed.data;
        const firstKey = this.busyKey.get(to);
        if (firstKey === undefined || firstKey === key) {
          this.busyKey.set(to, key);
          response.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'busy' }));
          return;
        }
        const earlier = this.byKey.get(key);
        if (earlier) {
          this.repeatedKeys += 1;
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(earlier));
          return;
        }
        const message = { id: `msg-${this.byKey.size + 1}`, accepted: [to], subject };
        this.byKey.set(key, message);
        this.delivered.set(to, [...(this.delivered.get(to) ?? []), { key, subject }]);
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(message));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('the mail server has no address');
    this.url = `http://127.0.0.1:${address.port}`;
  }

  deliveredCount(): number {
    let count = 0;
    for (const list of this.delivered.values()) count += list.length;
    return count;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
