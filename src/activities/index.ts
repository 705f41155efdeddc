import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { JsonObject } from '../model/json';
import type { Catalog, StepOutcome } from '../model/task';
import { executeStep } from '../runtime/execute';
import { DataValueError } from '../runtime/to-json';
import { currentStep } from '../steps/library';
import { loadWorkspace, WorkspaceError } from '../steps/load';

export interface RunStepInput {
  taskId: string;
  step: string;
  /** Step file relative to the workspace, as recorded in the catalog. */
  file: string;
  data: JsonObject;
}

/** The activities of a worker bound to one workspace. They do I/O and run user code; they decide nothing. */
export function createActivities(workspace: string) {
  return {
    /** Reads the step files; the result is recorded in the task's history, so replays see the same catalog. */
    async loadCatalog(): Promise<Catalog> {
      const loaded = await loadWorkspace(workspace);
      if (loaded.problems.length > 0) {
        const error = new WorkspaceError(loaded.problems);
        throw ApplicationFailure.create({ message: error.message, type: 'WorkspaceError', nonRetryable: true, details: [loaded.problems] });
      }
      return loaded.catalog;
    },

    /** Runs one step's content and returns its patch and commands. */
    async runStep(input: RunStepInput): Promise<StepOutcome> {
      const attempt = Context.current().info.attempt;
      try {
        const step = await currentStep(workspace, input.step, input.file);
        return await executeStep({ step: input.step, taskId: input.taskId, attempt, data: input.data, content: step.content });
      } catch (error) {
        throw asStepFailure(error, attempt);
      }
    },
  };
}

export type TaskActivities = ReturnType<typeof createActivities>;

/** Keeps the original message, type and stack, and records the attempt for the task's error record. */
function asStepFailure(error: unknown, attempt: number): ApplicationFailure {
  const original = error instanceof Error ? error : new Error(String(error));
  const failure = ApplicationFailure.create({
    message: original.message,
    type: original.name,
    // Bad output or a broken step file fails the same way on every retry.
    nonRetryable: original instanceof DataValueError || original instanceof WorkspaceError,
    details: [{ attempt }],
  });
  // Step files are imported in a private namespace; its query string is noise in a stack trace.
  if (original.stack) failure.stack = original.stack.replace(/\?tsx-namespace=[\w-]+/g, '');
  return failure;
}
