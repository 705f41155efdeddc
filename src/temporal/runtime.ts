import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

/**
 * The SDK logs every worker state change at INFO; whenflow shows its own progress instead. Must run
 * before the first connection is made (the runtime is process-wide); later calls do nothing.
 */
export function installRuntime(level: LogLevel = (process.env.WHENFLOW_LOG_LEVEL as LogLevel | undefined) ?? 'WARN'): void {
  if (installed) return;
  installed = true;
  // Commands handle SIGINT/SIGTERM themselves, to stop workers before closing connections and servers.
  Runtime.install({
    logger: new DefaultLogger(level),
    shutdownSignals: [],
    telemetryOptions: {
      logging: {
        // The SDK's default filter, except that payloads over Temporal's 512 KB warning size are expected:
        // large task data is served to steps by a query (one warning per step otherwise). whenflow's own
        // maxDataBytes keeps payloads below the server's limit, whose errors still show.
        filter: `${makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' })},temporalio_common::payload_limits=ERROR`,
        console: {},
      },
    },
  });
}
