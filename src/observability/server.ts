import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerMetrics } from './metrics';
import type { WorkerStatus } from './status';

export interface TelemetryServer {
  /** e.g. http://127.0.0.1:9464 */
  url: string;
  close(): Promise<void>;
}

/**
 * The worker's local endpoint: `GET /metrics` (Prometheus text format) and `GET /status` (JSON: the
 * connectors' circuits). Read-only; listens on 127.0.0.1 unless told otherwise.
 */
export async function serveTelemetry(options: {
  port: number;
  host: string;
  metrics: WorkerMetrics;
  status: () => Promise<WorkerStatus>;
}): Promise<TelemetryServer> {
  const server: Server = createServer((request, response) => {
    const send = (status: number, contentType: string, body: string) => {
      response.writeHead(status, { 'content-type': contentType });
      response.end(body);
    };
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'application/json', JSON.stringify({ error: `${request.method} is not allowed; use GET /metrics or GET /status` }));
      return;
    }
    const answer = async () => {
      if (path === '/metrics') {
        const { contentType, body } = await options.metrics.text();
        send(200, contentType, body);
      } else if (path === '/status') {
        send(200, 'application/json', JSON.stringify(await options.status()));
      } else {
        send(404, 'application/json', JSON.stringify({ error: `no such path ${path}; this worker serves /metrics and /status` }));
      }
    };
    answer().catch((error: unknown) =>
      send(500, 'application/json', JSON.stringify({ error: error instanceof Error ? error.message : String(error) })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`cannot serve metrics on ${options.host}:${options.port}: the port is in use; choose another with --metrics-port`)
          : error,
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
