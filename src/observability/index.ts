export { connectorTelemetryGuard, cycleOf, stepTelemetryInterceptor } from './activity-telemetry';
export { CIRCUIT_STATE_VALUE, errorType, WorkerMetrics, type CallResult } from './metrics';
export { serveTelemetry, type TelemetryServer } from './server';
export { connectorStatuses, workerStatusSchema, type ConnectorStatus, type WorkerStatus } from './status';
export {
  createTracing,
  inSpan,
  tracingDisabled,
  tracingFromEnvironment,
  TRACER_NAME,
  type TracingOptions,
  type WorkerTracing,
} from './tracing';
