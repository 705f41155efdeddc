/**
 * Workflow interceptors of a worker that traces (not a workflow): Temporal's OpenTelemetry interceptors,
 * plus a span for every cycle of a task.
 */
import { interceptors as temporalTracing } from '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors';
import type { WorkflowInterceptors } from '@temporalio/workflow';
import { traceCyclesWith } from './cycle-span';
import { openTelemetryCycleSpan } from './traced-cycle-span';

export const interceptors = (): WorkflowInterceptors => {
  traceCyclesWith(openTelemetryCycleSpan);
  return temporalTracing();
};
