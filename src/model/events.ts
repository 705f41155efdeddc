import type { TaskState } from './task';

/** Where a step stands in a task started with an explicit sequence: `index` of `of`, counted from 1. */
export interface SequencePosition {
  index: number;
  of: number;
}

/** What happened, without its place in the stream. */
export type TaskEventBody =
  | { type: 'task-started'; name: string; sequence: string[] | null }
  | { type: 'cycle-began'; cycle: number; steps: string[] }
  | { type: 'step-started'; cycle: number; step: string; position?: SequencePosition }
  | {
      type: 'step-finished';
      cycle: number;
      step: string;
      durationMs: number;
      attempt: number;
      changed: string[];
      position?: SequencePosition;
    }
  | { type: 'step-failed'; cycle: number; step: string; message: string; attempts: number; position?: SequencePosition }
  | { type: 'step-skipped'; step: string; reason: string; position: SequencePosition }
  | { type: 'conflict'; cycle: number; paths: string[]; kept: string; dropped: string; outcome?: 'rerun' | 'error' | 'overwritten' }
  | { type: 'subtask-needs-help'; taskId: string; state: TaskState }
  /** The catalog the task loaded leaves out step files that could not be loaded. */
  | { type: 'steps-disabled'; problems: { file: string; path?: string; message: string }[] }
  | { type: 'parked'; ms: number }
  | { type: 'data-updated'; keys: string[] }
  | { type: 'subtask-started'; step: string; taskId: string; name: string }
  | { type: 'subtask-ended'; taskId: string; state: TaskState }
  | { type: 'call-sent'; step: string; connector: string; method: string; into: string }
  | { type: 'call-answered'; step: string; connector: string; method: string; into: string }
  | { type: 'call-failed'; step: string; connector: string; method: string; into: string; message: string }
  | { type: 'state-changed'; from: TaskState; to: TaskState }
  | { type: 'task-ended'; state: TaskState };

export type TaskEventType = TaskEventBody['type'];

/** One entry of a task's event stream: numbered from 1, in the order things happened, across runs. */
export type TaskEvent = TaskEventBody & {
  seq: number;
  /** Workflow time (ISO 8601) at which the task recorded the event. */
  at: string;
};

/** A page of a task's event stream, as the events query answers it. */
export interface TaskEventPage {
  events: TaskEvent[];
  /** Lowest sequence number this run still holds; older events are in the inputs of earlier runs. */
  oldest: number;
  /** Sequence number the next event will get. */
  next: number;
  state: TaskState;
  /** Nothing more happens without outside help (see TaskSnapshot.settled); absent from tasks on older workers. */
  settled?: boolean;
}
