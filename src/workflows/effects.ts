import * as wf from '@temporalio/workflow';
import { checkSubtaskEnd } from '../model/activity-results';
import type { TaskActivities } from '../activities';
import { callOf, type Arrival } from '../cycle/task-book';
import type { TaskEventBody } from '../model/events';
import type { ConnectorPolicy, DeferredCall, StepRetryPolicy, SubtaskRequest, TaskOptions, TaskSnapshot } from '../model/task';
import { TASK_NAME_KEY, TASK_STATE_KEY, TASK_TAGS_KEY } from '../model/search-attributes';
import { resumeSignal, stopSignal, type TaskWorkflowInput } from './api';
import { DEFAULT_CONNECTOR_POLICY } from '../model/defaults';

/** A step's or connector's retry policy as Temporal's activity options want it. */
export function temporalRetryPolicy(retry: StepRetryPolicy): wf.RetryPolicy {
  return {
    initialInterval: retry.initialIntervalMs,
    backoffCoefficient: retry.backoffCoefficient,
    ...(retry.maximumIntervalMs === undefined ? {} : { maximumInterval: retry.maximumIntervalMs }),
    maximumAttempts: retry.maximumAttempts,
    nonRetryableErrorTypes: retry.nonRetryableErrorTypes,
  };
}

/**
 * Step activities and connector calls heartbeat every second; when a worker dies, Temporal notices
 * within this time and retries elsewhere, instead of waiting for the step's whole timeout.
 */
export const HEARTBEAT_TIMEOUT_MS = 15_000;

export function heartbeatTimeoutFor(timeoutMs: number): number {
  return Math.min(timeoutMs, HEARTBEAT_TIMEOUT_MS);
}

/** Where the work started by a cycle reports back: arrivals are taken in at the next cycle boundary. */
export type Inbox = Arrival[];

/** Adds an event to the task's stream. */
export type RecordEvent = (event: TaskEventBody) => void;

/**
 * Runs deferred connector calls, each as its own activity with its connector's retry policy.
 * Results land in the inbox; the task counts as `waiting` while any call is outstanding.
 */
export class DeferredCalls {
  outstanding = 0;

  constructor(
    private readonly taskId: string,
    private readonly inbox: Inbox,
    private readonly record: RecordEvent,
    /** Calls run in this scope, so that stopping the task cancels them. */
    private readonly scope: wf.CancellationScope,
  ) {}

  start(step: string, call: DeferredCall, policies: Record<string, ConnectorPolicy>, executionId: string): void {
    const policy = policies[call.connector] ?? DEFAULT_CONNECTOR_POLICY;
    const { callConnector } = wf.proxyActivities<TaskActivities>({
      startToCloseTimeout: policy.timeoutMs,
      heartbeatTimeout: heartbeatTimeoutFor(policy.timeoutMs),
      retry: temporalRetryPolicy(policy.retry),
      summary: `${call.connector}.${call.method} → ${call.into}`,
    });
    this.outstanding += 1;
    this.record({ type: 'call-sent', step, ...callOf(call) });
    this.scope
      .run(() => callConnector({ taskId: this.taskId, step, executionId, call }))
      .then(
        (value) => {
          this.outstanding -= 1;
          this.inbox.push({ kind: 'call-result', step, call, value });
        },
        (error: unknown) => {
          this.outstanding -= 1;
          const cause = error instanceof wf.ActivityFailure && error.cause ? error.cause : error;
          this.inbox.push({
            kind: 'call-failed',
            step,
            call,
            message: cause instanceof Error ? cause.message : String(cause),
            attempts: policy.retry.maximumAttempts,
          });
        },
      );
  }
}

/**
 * Subtasks are child workflows running the same task workflow. At most `maxSubtasks` run at once;
 * the rest wait in order. Children outlive a parent's run (ABANDON), so continue-as-new never kills
 * them; stopping a parent stops its running children explicitly.
 */
export class Subtasks {
  private readonly queue: { step: string; request: SubtaskRequest }[] = [];
  /** Running children by workflow ID: whether the parent waits for each. */
  private readonly running = new Map<string, { waitFor: boolean }>();
  /** Children launched whose start Temporal has not confirmed yet. */
  private starting = 0;
  private started = 0;
  /** Children (running or queued) the parent must wait for before its next cycle. */
  blocking = 0;

  constructor(
    private readonly parentId: string,
    private readonly options: TaskOptions,
    private readonly inbox: Inbox,
    private readonly record: RecordEvent,
  ) {}

  get outstanding(): number {
    return this.running.size + this.queue.length;
  }

  /** What must happen before the parent may end: every child started, and those it waits for ended. */
  get pendingBeforeEnd(): number {
    return this.queue.length + this.starting + this.blocking;
  }

  waitsFor(taskId: string): boolean {
    return this.running.get(taskId)?.waitFor === true;
  }

  /** Resumes a child in error (or attention) that the parent waits for. */
  resume(taskId: string): void {
    wf.getExternalWorkflowHandle(taskId)
      .signal(resumeSignal)
      .catch(() => undefined);
  }

  start(step: string, request: SubtaskRequest): void {
    if (request.waitFor) this.blocking += 1;
    this.queue.push({ step, request });
    this.launchQueued();
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.running.keys()].map((id) =>
        wf
          .getExternalWorkflowHandle(id)
          .signal(stopSignal)
          .catch(() => undefined),
      ),
    );
    this.queue.length = 0;
  }

  private launchQueued(): void {
    while (this.running.size < this.options.maxSubtasks && this.queue.length > 0) {
      this.launch(this.queue.shift()!);
    }
  }

  private launch({ step, request }: { step: string; request: SubtaskRequest }): void {
    this.started += 1;
    const workflowId = `${this.parentId}.${this.started}`;
    this.running.set(workflowId, { waitFor: request.waitFor });
    this.starting += 1;
    this.record({ type: 'subtask-started', step, taskId: workflowId, name: request.name });
    const input: TaskWorkflowInput = { name: request.name, tags: [], data: request.data, options: this.options };
    const ended = (state: TaskSnapshot['state'], result: TaskSnapshot['result']) => {
      this.running.delete(workflowId);
      if (request.waitFor) this.blocking -= 1;
      this.inbox.push({ kind: 'subtask-ended', into: request.into, outcome: { taskId: workflowId, state, result } });
      this.launchQueued();
    };
    let confirmed = false;
    const confirm = () => {
      if (confirmed) return;
      confirmed = true;
      this.starting -= 1;
    };
    // startChild then result() issues the same commands as executeChild; the start is confirmed on its own.
    wf.startChild<(input: TaskWorkflowInput) => Promise<TaskSnapshot>>('taskWorkflow', {
      workflowId,
      args: [input],
      parentClosePolicy: 'ABANDON',
      typedSearchAttributes: [
        { key: TASK_STATE_KEY, value: 'running' },
        { key: TASK_NAME_KEY, value: request.name },
        { key: TASK_TAGS_KEY, value: [] },
      ],
    })
      .then((child) => {
        confirm();
        return child.result();
      })
      .then(
        (snapshot: unknown) => {
          // What a child returns is checked like any outside result: an unreadable one counts as an error.
          const checked = checkSubtaskEnd(snapshot);
          if (checked.ok) ended(checked.value.state, checked.value.result as TaskSnapshot['result']);
          else ended('error', { error: `the subtask returned a malformed result: ${checked.problem}` });
        },
        // Terminated or otherwise ended without a snapshot (or never started): from the parent's view it was stopped.
        () => {
          confirm();
          ended('stopped', null);
        },
      );
  }
}
