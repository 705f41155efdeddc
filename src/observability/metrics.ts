import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CircuitBoard, CircuitStatus } from '../connectors/circuit';
import type { ConnectorLimits } from '../connectors/limits';

/** Numeric value of a circuit state, for the gauge: 0 closed, 1 half-open, 2 open. */
export const CIRCUIT_STATE_VALUE: Record<CircuitStatus, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Step attempts reach 60 s by default (the step timeout); connector calls are usually far shorter. */
const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type CallResult = 'ok' | 'failed' | 'rejected';

/**
 * The Prometheus metrics of one worker, in a registry of its own (several workers in one process do not
 * share series). Circuit gauges are read from the board at scrape time, so they are never stale.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly stepDuration: Histogram<'step' | 'outcome'>;
  private readonly stepFailures: Counter<'step' | 'type'>;
  private readonly connectorCalls: Counter<'connector' | 'method' | 'result'>;
  private readonly connectorFailures: Counter<'connector' | 'method' | 'type'>;
  private readonly connectorDuration: Histogram<'connector' | 'method'>;

  constructor(circuits?: CircuitBoard, options: { processMetrics?: boolean; limits?: ConnectorLimits } = {}) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'whenflow_' });
    this.stepDuration = new Histogram({
      name: 'whenflow_step_duration_seconds',
      help: 'Duration of step attempts (the step activity), by step and outcome (ok or failed)',
      labelNames: ['step', 'outcome'],
      buckets: STEP_BUCKETS,
      registers,
    });
    this.stepFailures = new Counter({
      name: 'whenflow_step_failures_total',
      help: 'Failed step attempts, by step and error type (error.name)',
      labelNames: ['step', 'type'],
      registers,
    });
    this.connectorCalls = new Counter({
      name: 'whenflow_connector_calls_total',
      help: 'Connector calls, by connector, method and result (ok, failed, or rejected by an open circuit)',
      labelNames: ['connector', 'method', 'result'],
      registers,
    });
    this.connectorFailures = new Counter({
      name: 'whenflow_connector_failures_total',
      help: 'Connector calls that threw, by connector, method and error type (error.name)',
      labelNames: ['connector', 'method', 'type'],
      registers,
    });
    this.connectorDuration = new Histogram({
      name: 'whenflow_connector_call_duration_seconds',
      help: 'Duration of connector calls that reached the connector',
      labelNames: ['connector', 'method'],
      buckets: CALL_BUCKETS,
      registers,
    });
    if (circuits) {
      new Gauge({
        name: 'whenflow_circuit_state',
        help: 'Circuit state per connector: 0 closed, 1 half-open, 2 open',
        labelNames: ['connector'],
        registers,
        collect() {
          for (const report of circuits.report()) this.set({ connector: report.connector }, CIRCUIT_STATE_VALUE[report.status]);
        },
      });
      new Gauge({
        name: 'whenflow_circuit_consecutive_failures',
        help: 'Consecutive failed calls per connector, as the circuit breaker counts them',
        labelNames: ['connector'],
        registers,
        collect() {
          for (const report of circuits.report()) this.set({ connector: report.connector }, report.consecutiveFailures);
        },
      });
    }
    const limits = options.limits;
    if (limits) {
      new Gauge({
        name: 'whenflow_connector_calls_in_flight',
        help: 'Calls sent and not settled, per connector with a maxConcurrent limit',
        labelNames: ['connector'],
        registers,
        collect() {
          this.reset(); // a connector whose limit was removed drops out
          for (const report of limits.report()) this.set({ connector: report.connector }, report.inFlight);
        },
      });
      new Gauge({
        name: 'whenflow_connector_calls_waiting',
        help: 'Calls waiting for a slot, per connector with a maxConcurrent limit',
        labelNames: ['connector'],
        registers,
        collect() {
          this.reset();
          for (const report of limits.report()) this.set({ connector: report.connector }, report.waiting);
        },
      });
    }
  }

  stepAttempt(step: string, seconds: number, error?: unknown): void {
    this.stepDuration.observe({ step, outcome: error === undefined ? 'ok' : 'failed' }, seconds);
    if (error !== undefined) this.stepFailures.inc({ step, type: errorType(error) });
  }

  connectorCall(connector: string, method: string, result: CallResult, seconds: number | null, error?: unknown): void {
    this.connectorCalls.inc({ connector, method, result });
    if (seconds !== null) this.connectorDuration.observe({ connector, method }, seconds);
    if (result === 'failed') this.connectorFailures.inc({ connector, method, type: errorType(error) });
  }

  /** The exposition text for `/metrics`. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** The error's name, which a retry policy's `nonRetryableErrorTypes` also uses; bounded, unlike messages. */
export function errorType(error: unknown): string {
  // A step's error reaches the interceptor as an ApplicationFailure whose `type` is the original error's name.
  const type = (error as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && type) return type;
  return error instanceof Error ? error.name || 'Error' : 'Error';
}
