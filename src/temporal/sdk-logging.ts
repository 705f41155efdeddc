import { format } from 'node:util';
import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';

/**
 * The SDK reports every failed activity attempt as a multi-line warning with the whole failure (for a
 * step: its stack and source location); the activities log one line of their own per attempt instead.
 * At DEBUG or TRACE the SDK's report shows as well.
 */
function quietActivityFailures(level: LogLevel): (entry: LogEntry) => void {
  const verbose = level === 'DEBUG' || level === 'TRACE';
  return (entry) => {
    if (!verbose && entry.message === 'Activity failed') return;
    const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
    process.stderr.write(`${time} [${entry.level}] ${entry.message}${entry.meta === undefined ? '' : ` ${format(entry.meta)}`}\n`);
  };
}

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
    logger: new DefaultLogger(level, quietActivityFailures(level)),
    shutdownSignals: [],
    telemetryOptions: {
      logging: {
        // The SDK's default filter, except that payloads over Temporal's 512 KB warning size are expected:
        // large task data is served to steps by a query (one warning per step otherwise). whenflow's own
        // maxDataBytes keeps payloads below the server's limit, whose errors still show.
        filter: `${makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' })},temporalio_common::payload_limits=ERROR`,
        // Through the logger above, to stderr: stdout belongs to the commands (`--json` prints one object there).
        forward: {},
      },
    },
  });
}
