import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { CircuitOpenError } from '../connectors/circuit';
import type { ConnectorCallGuard } from '../connectors/types';
import type { WorkerMetrics } from './metrics';
import { inSpan, type WorkerTracing } from './tracing';

/** The fields of the step activity's input that telemetry labels spans and series with. */
interface StepActivityInput {
  taskId: string;
  step: string;
  executionId: string;
}

function stepInput(args: readonly unknown[]): StepActivityInput | null {
  const input = args[0] as Partial<StepActivityInput> | undefined;
  if (!input || typeof input.step !== 'string' || typeof input.taskId !== 'string' || typeof input.executionId !== 'string') return null;
  return { taskId: input.taskId, step: input.step, executionId: input.executionId };
}

/**
 * The cycle a step execution belongs to: execution IDs of the condition cycle are `<task>:<cycle>:<step>`.
 * Cycles are not spans of their own (the workflow sandbox starts none); the cycle is an attribute of its steps.
 */
export function cycleOf(input: StepActivityInput): number | null {
  const prefix = `${input.taskId}:`;
  const suffix = `:${input.step}`;
  if (!input.executionId.startsWith(prefix) || !input.executionId.endsWith(suffix)) return null;
  const middle = input.executionId.slice(prefix.length, input.executionId.length - suffix.length);
  return /^\d+$/.test(middle) ? Number(middle) : null;
}

/** Step spans and step metrics around the `runStep` activity; other activities pass through. */
export function stepTelemetryInterceptor(telemetry: {
  metrics?: WorkerMetrics | undefined;
  tracing?: WorkerTracing | undefined;
}): ActivityInterceptorsFactory {
  return (ctx) => {
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
        const step = ctx.info.activityType === 'runStep' ? stepInput(input.args) : null;
        if (!step) return next(input);
        const started = performance.now();
        const run = async () => {
          try {
            const result = await next(input);
            telemetry.metrics?.stepAttempt(step.step, (performance.now() - started) / 1000);
            return result;
          } catch (error) {
            telemetry.metrics?.stepAttempt(step.step, (performance.now() - started) / 1000, error);
            throw error;
          }
        };
        if (!telemetry.tracing) return run();
        const cycle = cycleOf(step);
        const attributes = {
          'whenflow.task_id': step.taskId,
          'whenflow.step': step.step,
          'whenflow.execution_id': step.executionId,
          'whenflow.attempt': ctx.info.attempt,
          ...(cycle !== null ? { 'whenflow.cycle': cycle } : {}),
        };
        return inSpan(telemetry.tracing.tracer, `step ${step.step}`, attributes, run);
      },
    };
    return { inbound };
  };
}

/** Connector call spans and metrics; wraps the circuit breaker, so calls it rejects are counted too. */
export function connectorTelemetryGuard(telemetry: {
  metrics?: WorkerMetrics | undefined;
  tracing?: WorkerTracing | undefined;
}): ConnectorCallGuard {
  return {
    async run(call, invoke) {
      const measured = async () => {
        const started = performance.now();
        try {
          const value = await invoke();
          telemetry.metrics?.connectorCall(call.connector, call.method, 'ok', (performance.now() - started) / 1000);
          return value;
        } catch (error) {
          if (error instanceof CircuitOpenError) telemetry.metrics?.connectorCall(call.connector, call.method, 'rejected', null);
          else telemetry.metrics?.connectorCall(call.connector, call.method, 'failed', (performance.now() - started) / 1000, error);
          throw error;
        }
      };
      if (!telemetry.tracing) return measured();
      const attributes = {
        'whenflow.connector': call.connector,
        'whenflow.method': call.method,
        'whenflow.task_id': call.context.taskId,
        'whenflow.step': call.context.step,
        'whenflow.attempt': call.context.attempt,
      };
      return inSpan(telemetry.tracing.tracer, `connector ${call.connector}.${call.method}`, attributes, measured, call.context.maskSecrets);
    },
  };
}
