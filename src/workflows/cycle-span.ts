import type { SequencePosition } from '../model/events';
import type { TaskError } from '../model/task';

/**
 * The seam for one cycle of a task as a span. Without tracing, cycles cost nothing: the workflow bundle
 * without tracing does not even load OpenTelemetry, as its modules are evaluated for every workflow.
 * A worker that traces bundles src/workflows/tracing-interceptors.ts, which installs the OpenTelemetry
 * cycle span (src/workflows/traced-cycle-span.ts) when each workflow starts.
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

export type CycleSpanFactory = (facts: CycleFacts) => CycleSpan;

const UNTRACED: CycleSpan = { activate: (schedule) => schedule(), end() {} };
let startSpan: CycleSpanFactory = () => UNTRACED;

/** Called by the tracing interceptors; the same factory for every workflow of the bundle. */
export function traceCyclesWith(factory: CycleSpanFactory): void {
  startSpan = factory;
}

export function startCycleSpan(facts: CycleFacts): CycleSpan {
  return startSpan(facts);
}
