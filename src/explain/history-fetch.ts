/**
 * Reads a task's Temporal history (every run it continued through, as far back as asked) and turns it
 * into the facts timeline.ts rebuilds the task from. The only I/O of the explanations.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { CallConnectorInput } from '../activities';
import type { JsonObject, JsonValue } from '../model/json';
import type { Catalog, StepOutcome, TaskSnapshot, TaskState } from '../model/task';
import type { TaskWorkflowInput } from '../workflows/api';
import type { HistoryFact, RecordedRun } from './timeline';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];
type Payload = Parameters<Client['options']['loadedDataConverter']['payloadConverter']['fromPayload']>[0];

const UPDATE_DATA = 'whenflow.update';

async function decode<T>(client: Client, payload: Payload | null | undefined): Promise<T | undefined> {
  if (!payload) return undefined;
  return client.options.loadedDataConverter.payloadConverter.fromPayload<T>(payload);
}

const idOf = (value: unknown): string => String(value ?? '');

/** The facts of one run's history, in order. */
async function factsOf(
  client: Client,
  taskId: string,
  events: readonly HistoryEvent[],
): Promise<{ input: TaskWorkflowInput | undefined; previousRunId: string | undefined; facts: HistoryFact[] }> {
  const facts: HistoryFact[] = [];
  let input: TaskWorkflowInput | undefined;
  let previousRunId: string | undefined;
  const activityKinds = new Map<string, 'step' | 'call' | 'catalog'>();
  for (const event of events) {
    const id = idOf(event.eventId);
    if (event.workflowExecutionStartedEventAttributes) {
      const started = event.workflowExecutionStartedEventAttributes;
      input = await decode<TaskWorkflowInput>(client, started.input?.payloads?.[0]);
      previousRunId = started.continuedExecutionRunId || undefined;
    } else if (event.markerRecordedEventAttributes) {
      const marker = event.markerRecordedEventAttributes;
      if (marker.markerName !== 'core_local_activity') continue;
      const meta = await decode<{ activity_type?: string }>(client, marker.details?.data?.payloads?.[0]);
      if (meta?.activity_type !== 'loadCatalog') continue;
      const catalog = await decode<Catalog>(client, marker.details?.result?.payloads?.[0]);
      if (catalog) facts.push({ kind: 'catalog', catalog });
    } else if (event.activityTaskScheduledEventAttributes) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      const type = scheduled.activityType?.name;
      if (type === 'runStep') {
        const stepInput = await decode<{ executionId: string; step: string }>(client, scheduled.input?.payloads?.[0]);
        if (!stepInput) continue;
        // `<taskId>:<cycle>:<step>`
        const rest = stepInput.executionId.slice(taskId.length + 1);
        const cycle = Number(rest.slice(0, rest.indexOf(':')));
        activityKinds.set(id, 'step');
        facts.push({ kind: 'step-scheduled', id, cycle, step: stepInput.step });
      } else if (type === 'callConnector') {
        const callInput = await decode<CallConnectorInput>(client, scheduled.input?.payloads?.[0]);
        if (!callInput) continue;
        activityKinds.set(id, 'call');
        facts.push({ kind: 'call-scheduled', id, call: callInput.call });
      } else if (type === 'loadCatalog') {
        activityKinds.set(id, 'catalog');
      }
    } else if (event.activityTaskCompletedEventAttributes) {
      const completed = event.activityTaskCompletedEventAttributes;
      const scheduledId = idOf(completed.scheduledEventId);
      const kind = activityKinds.get(scheduledId);
      if (kind === 'step') {
        const outcome = await decode<StepOutcome>(client, completed.result?.payloads?.[0]);
        if (outcome) facts.push({ kind: 'step-completed', id: scheduledId, outcome });
      } else if (kind === 'call') {
        facts.push({
          kind: 'call-completed',
          id: scheduledId,
          value: (await decode<JsonValue>(client, completed.result?.payloads?.[0])) ?? null,
        });
      } else if (kind === 'catalog') {
        const catalog = await decode<Catalog>(client, completed.result?.payloads?.[0]);
        if (catalog) facts.push({ kind: 'catalog', catalog });
      }
    } else if (
      event.activityTaskFailedEventAttributes ||
      event.activityTaskTimedOutEventAttributes ||
      event.activityTaskCanceledEventAttributes
    ) {
      const ended =
        event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes ?? event.activityTaskCanceledEventAttributes;
      const scheduledId = idOf(ended?.scheduledEventId);
      if (activityKinds.get(scheduledId) === 'step') facts.push({ kind: 'step-failed', id: scheduledId });
    } else if (event.workflowExecutionUpdateAcceptedEventAttributes) {
      const request = event.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input;
      if (request?.name !== UPDATE_DATA) continue;
      const patch = await decode<JsonObject>(client, request.args?.payloads?.[0]);
      if (patch) facts.push({ kind: 'update', patch });
    } else if (event.startChildWorkflowExecutionInitiatedEventAttributes) {
      facts.push({ kind: 'child-started', workflowId: event.startChildWorkflowExecutionInitiatedEventAttributes.workflowId ?? '' });
    } else if (event.childWorkflowExecutionCompletedEventAttributes) {
      const completed = event.childWorkflowExecutionCompletedEventAttributes;
      const snapshot = await decode<TaskSnapshot>(client, completed.result?.payloads?.[0]);
      facts.push({
        kind: 'child-ended',
        workflowId: completed.workflowExecution?.workflowId ?? '',
        state: snapshot?.state ?? 'done',
        result: snapshot?.result ?? null,
      });
    } else {
      const ended =
        event.childWorkflowExecutionFailedEventAttributes ??
        event.childWorkflowExecutionCanceledEventAttributes ??
        event.childWorkflowExecutionTerminatedEventAttributes ??
        event.childWorkflowExecutionTimedOutEventAttributes;
      if (ended)
        facts.push({
          kind: 'child-ended',
          workflowId: ended.workflowExecution?.workflowId ?? '',
          state: 'stopped' satisfies TaskState,
          result: null,
        });
    }
  }
  return { input, previousRunId, facts };
}

async function readRun(
  client: Client,
  taskId: string,
  runId: string | undefined,
): Promise<RecordedRun & { previousRunId: string | undefined }> {
  const handle = client.workflow.getHandle(taskId, runId);
  const history = await handle.fetchHistory();
  const resolvedRunId = runId ?? (await handle.describe()).runId;
  const { input, previousRunId, facts } = await factsOf(client, taskId, history.events ?? []);
  if (!input) throw new Error(`task ${taskId} (run ${resolvedRunId}) has no recorded input`);
  return { runId: resolvedRunId, input, facts, previousRunId };
}

/**
 * The runs of a task, oldest first, going back until a run that started at or before cycle `fromCycle`
 * (only the latest run when `fromCycle` is undefined; every run when it is 0).
 */
export async function readTaskHistory(client: Client, taskId: string, options: { fromCycle?: number } = {}): Promise<RecordedRun[]> {
  const runs: RecordedRun[] = [];
  let next: string | undefined;
  let latest = true;
  for (;;) {
    const run = await readRun(client, taskId, latest ? undefined : next);
    latest = false;
    runs.unshift({ runId: run.runId, input: run.input, facts: run.facts });
    const startCycle = run.input.carried?.task.cycle ?? 0;
    if (options.fromCycle === undefined || startCycle <= options.fromCycle || !run.previousRunId) break;
    next = run.previousRunId;
  }
  return runs;
}
