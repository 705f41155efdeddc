import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/** What the fault workspace's `probe` connector reports: a step execution began or ended, in which process. */
const markSchema = z.object({
  phase: z.enum(['begin', 'end']),
  /** The task's count when the step began: with task and step it names one step execution. */
  at: z.number().int(),
  taskId: z.string(),
  step: z.string(),
  attempt: z.number().int(),
  pid: z.number().int(),
});
export type Mark = z.infer<typeof markSchema>;

/** One step execution of one task, however often its content ran. */
export const executionKey = (mark: Pick<Mark, 'taskId' | 'step' | 'at'>): string => `${mark.taskId}|${mark.step}|${mark.at}`;

/**
 * A real local HTTP server that step content reports to. It outlives the worker processes a fault
 * test kills, so it counts how often step content actually ran, independent of the task data.
 */
export class ProbeServer {
  readonly marks: Mark[] = [];
  url = '';
  private server: Server | null = null;
  private readonly listeners = new Set<() => void>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Executions a process began and did not finish (by the marks received so far). */
  unfinishedBy(pid: number): Mark[] {
    const ended = new Set(this.marks.filter((m) => m.pid === pid && m.phase === 'end').map(executionKey));
    return this.marks.filter((m) => m.pid === pid && m.phase === 'begin' && !ended.has(executionKey(m)));
  }

  begunBy(pid: number): number {
    return this.marks.filter((m) => m.pid === pid && m.phase === 'begin').length;
  }

  /** Resolves once `predicate` holds (checked now and after every mark). */
  until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`probe: ${what} did not happen within ${timeoutMs} ms (${this.marks.length} marks so far)`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      this.listeners.add(check);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const parsed = markSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
    if (req.url !== '/mark' || !parsed.success) {
      res.writeHead(400).end(parsed.success ? 'unknown path' : parsed.error.message);
      return;
    }
    this.marks.push(parsed.data);
    res.writeHead(200, { 'content-type': 'application/json' }).end('null');
    for (const listener of [...this.listeners]) listener();
  }
}
