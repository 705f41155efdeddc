/**
 * `whenflow` and `whenflow/client`: start, query and steer tasks from a Temporal `Client`. It loads
 * neither the worker, webpack nor Temporal's native bridge (test/integration/package.test.ts checks).
 */
export * from './client';
export { FinalError, WhenflowError } from './model/errors';
export type { TaskSnapshot, TaskState, TraceEntry } from './model/task';
export type { TaskEvent } from './model/events';
export type { JsonObject, JsonValue } from './model/json';
export { loadWorkspaceConfig, workspaceTaskQueue, workspaceTaskSettings, type WorkspaceConfig } from './workspace/config';
