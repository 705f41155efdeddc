import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { CycleFacts, CycleSpan } from './cycle-span';

/**
 * One cycle of a task as an OpenTelemetry span `whenflow.cycle`, a child of the task's workflow span and
 * the parent of the step activities scheduled while it is active.
 *
 * Runs in the workflow sandbox. A span is not a workflow command, so histories replay the same with or
 * without it. With tracing on, Temporal's workflow interceptors register a tracer provider and a context
 * manager for each workflow; span IDs come from the sandbox's seeded Math.random and times from workflow
 * time, so a replay rebuilds the same spans, and the sink that exports them is not called while replaying.
 */
export const CYCLE_SPAN_NAME = 'whenflow.cycle';
const TRACER_NAME = 'whenflow';

export function openTelemetryCycleSpan({ taskId, cycle, steps, position }: CycleFacts): CycleSpan {
  const parent = context.active();
  const span: Span = trace.getTracer(TRACER_NAME).startSpan(
    CYCLE_SPAN_NAME,
    {
      attributes: {
        'whenflow.task_id': taskId,
        'whenflow.cycle': cycle,
        'whenflow.steps': steps,
        ...(position ? { 'whenflow.sequence_index': position.index, 'whenflow.sequence_length': position.of } : {}),
      },
    },
    parent,
  );
  const active = trace.setSpan(parent, span);
  return {
    activate: (schedule) => context.with(active, schedule),
    end(failure) {
      if (failure) {
        span.setAttribute('whenflow.failed_step', failure.step);
        span.setStatus({ code: SpanStatusCode.ERROR, message: `step ${failure.step} failed: ${failure.message}` });
      }
      span.end();
    },
  };
}
