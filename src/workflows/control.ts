import * as wf from '@temporalio/workflow';
import { applyMergePatch } from '../model/patch';
import { describeOverLimit, maxDataBytesOf, overDataLimit } from '../cycle/data-limit';
import type { Retry, TaskBook } from '../cycle/task-book';
import { isJsonObject, type JsonObject } from '../model/json';
import {
  eventsQuery,
  reloadUpdate,
  resumeSignal,
  resumeUpdate,
  snapshotQuery,
  stopSignal,
  stopUpdate,
  subtaskNeedsHelpSignal,
  updateDataUpdate,
} from './api';
import type { Deadline } from './deadline';
import type { Inbox, Subtasks } from './effects';
import { STOP_CANCELS_PATCH } from './patches';

/** What the outside asked of the task that the cycle takes up at its next move: a retry, a reload. */
export interface Control {
  pendingRetry(): Retry | null;
  reloadRequested(): boolean;
  takeRetry(): Retry | null;
  takeReload(): boolean;
}

/**
 * The task's queries, updates and signals: they read the task, change its state through its own methods,
 * and leave arrivals in the inbox or requests in the returned control for the cycle to take up.
 */
export function listenForControl(
  task: TaskBook,
  inbox: Inbox,
  subtasks: Subtasks,
  inFlight: wf.CancellationScope,
  deadline: Deadline,
): Control {
  let retry: Retry | null = null;
  let reload = false;
  /** Nothing more happens without outside help: ended, or in error or attention with no deadline to wait for. */
  const settled = () => task.terminal || (task.needsOutsideHelp && deadline.at === null);
  wf.setHandler(snapshotQuery, () => ({ ...task.snapshot(), settled: settled(), deadlineAt: deadline.at }));
  wf.setHandler(eventsQuery, (after, limit) => ({ ...task.events.page(after, task.state, limit), settled: settled() }));
  /** A resume: the failed step or call runs again; a failed subtask is resumed, and the task waits for it again. */
  const resume = () => {
    retry = task.revive();
    if (retry?.kind === 'subtask') {
      subtasks.resume(retry.taskId);
      retry = null;
    }
  };
  // A parent resuming this task (it failed, and the parent waits for it).
  wf.setHandler(resumeSignal, () => {
    if (task.needsOutsideHelp) resume();
  });
  wf.setHandler(subtaskNeedsHelpSignal, (report) => {
    if (!task.terminal && subtasks.waitsFor(report.taskId)) inbox.push({ kind: 'subtask-needs-help', ...report });
  });
  const refuseWhenTerminal = () => {
    if (task.terminal) throw new Error(`task is already ${task.state}`);
  };
  wf.setHandler(
    resumeUpdate,
    () => {
      resume();
      return task.state;
    },
    {
      validator: () => {
        if (!task.needsOutsideHelp) throw new Error(`task is ${task.state}; only a task in error or attention can be resumed`);
      },
    },
  );
  const stop = async () => {
    if (!task.stop()) return task.state;
    if (wf.patched(STOP_CANCELS_PATCH)) inFlight.cancel();
    await subtasks.stopAll();
    return task.state;
  };
  wf.setHandler(stopUpdate, stop, { validator: refuseWhenTerminal });
  wf.setHandler(stopSignal, async () => {
    await stop();
  });
  wf.setHandler(
    updateDataUpdate,
    (patch) => {
      // Rules 2: an update that arrives while steps run is taken in after their changes, and replaces what they
      // wrote at the same paths (recorded as a conflict).
      inbox.push(task.lossless ? { kind: 'update', patch, during: task.actingCycle } : { kind: 'update', patch });
      return task.state;
    },
    {
      validator: (patch) => {
        refuseWhenTerminal();
        if (!isJsonObject(patch)) throw new Error('an update must be a JSON object (a JSON Merge Patch of the task data)');
        // Measured against the data the update will meet: the task's, with accepted updates not yet taken in.
        const current = inbox.reduce(
          (data, arrival) => (arrival.kind === 'update' ? (applyMergePatch(data, arrival.patch) as JsonObject) : data),
          task.data,
        );
        const over = overDataLimit(applyMergePatch(current, patch) as JsonObject, maxDataBytesOf(task.options), current);
        if (over) throw new Error(`the update would make the task data ${describeOverLimit(over)}; the task keeps its data`);
      },
    },
  );
  wf.setHandler(
    reloadUpdate,
    () => {
      reload = true;
      // A reload is outside help too: a task in attention or error runs again with the new steps.
      if (task.needsOutsideHelp) {
        const again = task.revive();
        if (again?.kind === 'subtask') subtasks.resume(again.taskId);
      }
      return task.state;
    },
    { validator: refuseWhenTerminal },
  );
  return {
    pendingRetry: () => retry,
    reloadRequested: () => reload,
    takeReload() {
      const taken = reload;
      reload = false;
      return taken;
    },
    takeRetry() {
      const taken = retry;
      retry = null;
      return taken;
    },
  };
}
