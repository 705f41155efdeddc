import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { SequencePosition } from '../model/events';
import type { TaskError } from '../model/task';

/**
 * One cycle of a task as an OpenTelemetry span `whenflow.cycle`, a child of the task's workflow span and
 * the parent of the step activities scheduled while it is active.
 *
 * Runs in the workflow sandbox. A span is not a workflow command, so histories replay the same with or
 * without it. With tracing on, Temporal's workflow interceptors register a tracer provider and a context
 * manager for each workflow; span IDs come from the sandbox's seeded Math.random and times from workflow
 * time, so a replay rebuilds the same spans, and the sink that exports them is not called while replaying.
 * Without those interceptors the OpenTelemetry API answers with its no-op tracer and context manager.
 */
export interface CycleSpan {
  /** Runs `schedule` with this cycle's span active: activities scheduled in it carry the span as parent. */
  activate<T>(schedule: () => T): T;
  /** Ends the span; a step that failed for good marks the cycle as an error. */
  end(failure: Pick<TaskError, 'step' | 'message'> | null): void;
}

export interface CycleFacts {
  taskId: string;
  cycle: number;
  steps: string[];
  position?: SequencePosition;
}

export const CYCLE_SPAN_NAME = 'whenflow.cycle';
const TRACER_NAME = 'whenflow';

export function startCycleSpan({ taskId, cycle, steps, position }: CycleFacts): CycleSpan {
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
