import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { getTask, startTask, stopTask, TaskWaitTimeoutError, waitForTask } from '../client';
import { isTerminal, type TaskSnapshot } from '../model/task';
import { installRuntime } from '../temporal/runtime';
import { openSession } from '../temporal/server';
import { createTaskWorker } from '../worker';
import { workspaceTaskSettings } from '../workspace/config';
import { openWorkspace, type Workspace } from '../workspace/workspace';
import { evaluateScenario, loadScenarios, type Scenario, type ScenarioProblem, type ScenarioResult } from './scenarios';

/** How long a scenario's task may take to settle when the scenario sets no `timeoutMs`. */
export const DEFAULT_SCENARIO_TIMEOUT_MS = 60_000;

export interface RunScenariosOptions {
  workspace: string;
  /** Folder of scenario files; default `<workspace>/scenarios`. */
  dir?: string;
  /** Runs only scenarios whose name or file contains this text (case-insensitive). */
  filter?: string;
  /** Progress lines (server start, each scenario's task and verdict). */
  log?: (line: string) => void;
}

export interface RunScenariosOutcome {
  results: ScenarioResult[];
  /** Workspace and scenario-file problems; when there are any, nothing was run. */
  problems: ScenarioProblem[];
}

/**
 * Runs every scenario of a folder as a real task: Temporal from TEMPORAL_ADDRESS or a fresh dev server,
 * one worker on the workspace on a private task queue, all scenarios at once. Everything it starts is
 * shut down before it returns or throws.
 */
export async function runScenarios(options: RunScenariosOptions): Promise<RunScenariosOutcome> {
  const log = options.log ?? (() => {});
  const dir = resolve(options.dir ?? join(options.workspace, 'scenarios'));
  const [ws, loaded] = await Promise.all([openWorkspace(options.workspace), loadScenarios(dir)]);
  const problems: ScenarioProblem[] = [...ws.problems.map((p) => ({ file: p.file, path: p.path ?? '', message: p.message })), ...loaded.problems];
  const filter = options.filter?.toLowerCase();
  const scenarios = filter ? loaded.scenarios.filter((s) => s.name.toLowerCase().includes(filter) || s.file.toLowerCase().includes(filter)) : loaded.scenarios;
  if (problems.length === 0 && scenarios.length === 0) problems.push({ file: dir, path: '', message: `no scenario matches the filter "${options.filter ?? ''}"` });
  if (problems.length > 0) return { results: [], problems };

  quietSdkLogs();
  const session = await openSession(log);
  try {
    const taskQueue = `whenflow-scenarios-${randomUUID()}`;
    const worker = await createTaskWorker({ connection: session.nativeConnection, namespace: session.namespace, workspace: ws.dir, taskQueue });
    log(`running ${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'} on ${session.address} (task queue ${taskQueue})`);
    const results = await worker.runUntil(() =>
      Promise.all(
        scenarios.map(async (scenario) => {
          // Progress only: the report that follows shows ✓ or ✗ for each scenario (once).
          log(`running ${scenario.name}`);
          return runOne(session.client, ws, taskQueue, scenario, log);
        }),
      ),
    );
    return { results, problems: [] };
  } finally {
    await session.close();
  }
}

async function runOne(client: Client, ws: Workspace, taskQueue: string, scenario: Scenario, log: (line: string) => void): Promise<ScenarioResult> {
  const timeoutMs = scenario.timeoutMs ?? DEFAULT_SCENARIO_TIMEOUT_MS;
  let taskId: string | undefined;
  let ended = false;
  try {
    const handle = await startTask(client, {
      data: scenario.data,
      taskQueue,
      ...workspaceTaskSettings(ws.config),
    });
    taskId = handle.workflowId;
    log(`  ${scenario.name}: task ${taskId}`);
    let snapshot: TaskSnapshot;
    try {
      snapshot = await waitForTask(client, taskId, { timeoutMs });
    } catch (error) {
      if (!(error instanceof TaskWaitTimeoutError)) throw error;
      const current = await getTask(client, taskId).catch(() => null);
      const steps = current ? ` (${current.trace.map((e) => e.step).join(', ') || 'no step ran'})` : '';
      return fail(scenario, { what: 'state', expected: scenario.expectedState, actual: `not settled within ${timeoutMs} ms: still ${current?.state ?? 'running'}${steps}` });
    }
    ended = isTerminal(snapshot.state);
    return evaluateScenario(scenario, snapshot);
  } catch (error) {
    return fail(scenario, { what: 'run', expected: 'the task to start and settle', actual: error instanceof Error ? error.message : String(error) });
  } finally {
    // attention, error and timed-out tasks stay alive; on a shared server nothing would ever end them.
    if (taskId && !ended) await stopTask(client, taskId).catch(() => undefined);
  }
}

function fail(scenario: Scenario, failure: ScenarioResult['failures'][number]): ScenarioResult {
  return { name: scenario.name, file: scenario.file, passed: false, failures: [failure] };
}

/** The SDK logs every worker state change; keep it quiet unless the process already set its runtime up. */
function quietSdkLogs(): void {
  try {
    installRuntime();
  } catch {
    // A Runtime already exists (the host created connections before): leave its settings alone.
  }
}
