import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { getTask, startTask, stopTask, updateTask } from '../client';
import { isSettled, isTerminal, type TaskSnapshot } from '../model/task';
import { installRuntime } from '../temporal/sdk-logging';
import { openSession } from '../temporal/server';
import { createTimeSkippingEnvironment } from '../temporal/time-skipping';
import { coverageOfTask, coverageReport, type CoverageHits, type CoverageReport } from '../analysis/coverage';
import { eventsQuery } from '../workflows/api';
import type { TaskEventPage } from '../model/events';
import { createTaskWorker } from '../worker';
import { stashKeysOf, workspaceTaskSettings } from '../workspace/config';
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
  /**
   * Run on Temporal's time-skipping test server: while a task waits (a park, a deadline), time jumps ahead,
   * so waits of hours take no wall time. Scenarios then run one after another.
   */
  timeSkipping?: boolean;
  /** Also report which steps ran and which condition constraints and `$or` branches were exercised. */
  coverage?: boolean;
  /** Called with each scenario's settled task (e.g. to record what its steps wrote). */
  onSettled?: (scenario: Scenario, snapshot: TaskSnapshot) => void;
}

/** Where scenarios run: a Temporal server, a client on it, and (time-skipping) a way to let time jump. */
interface ScenarioSession {
  address: string;
  namespace: string;
  client: Client;
  nativeConnection: Parameters<typeof createTaskWorker>[0]['connection'];
  /** Time-skipping server only: moves time forward by `ms` at once, and tells the server's time. */
  skipTime?: { advance(ms: number): Promise<void>; now(): Promise<number> };
  close(): Promise<void>;
}

async function openScenarioSession(timeSkipping: boolean, log: (line: string) => void): Promise<ScenarioSession> {
  if (!timeSkipping) return openSession(log);
  const env = await createTimeSkippingEnvironment(log);
  return {
    address: env.address,
    namespace: env.namespace ?? 'default',
    client: env.client,
    nativeConnection: env.nativeConnection,
    // Time moves by exact amounts (`sleep`): left unlocked, the server would race ahead of updates the runner sends.
    skipTime: { advance: (ms) => env.sleep(ms), now: () => env.currentTimeMs() },
    close: () => env.teardown(),
  };
}

export interface RunScenariosOutcome {
  results: ScenarioResult[];
  /** Workspace and scenario-file problems; when there are any, nothing was run. */
  problems: ScenarioProblem[];
  /** With `coverage`: steps that ran, constraints and branches exercised, and those never exercised. */
  coverage?: CoverageReport;
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
  const problems: ScenarioProblem[] = [
    ...ws.problems.map((p) => ({ file: p.file, path: p.path ?? '', message: p.message })),
    ...loaded.problems,
  ];
  const filter = options.filter?.toLowerCase();
  const scenarios = filter
    ? loaded.scenarios.filter((s) => s.name.toLowerCase().includes(filter) || s.file.toLowerCase().includes(filter))
    : loaded.scenarios;
  if (problems.length === 0 && scenarios.length === 0)
    problems.push({ file: dir, path: '', message: `no scenario matches the filter "${options.filter ?? ''}"` });
  if (problems.length > 0) return { results: [], problems };

  quietSdkLogs();
  const session = await openScenarioSession(options.timeSkipping ?? false, log);
  try {
    const taskQueue = `whenflow-scenarios-${randomUUID()}`;
    const worker = await createTaskWorker({
      connection: session.nativeConnection,
      namespace: session.namespace,
      workspace: ws.dir,
      taskQueue,
    });
    log(
      `running ${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'} on ${session.address}${session.skipTime ? ' (time-skipping)' : ''} (task queue ${taskQueue})`,
    );
    const hits: CoverageHits | null = options.coverage ? new Map() : null;
    const runAndReport = async (scenario: Scenario) => {
      // Progress only: the report that follows shows ✓ or ✗ for each scenario (once).
      log(`running ${scenario.name}`);
      const result = await runOne(session, ws, taskQueue, scenario, log, async (settled, snapshot) => {
        options.onSettled?.(settled, snapshot);
        if (hits) await coverageOfTask(session.client, snapshot.taskId, hits);
      });
      return result;
    };
    const results = await worker.runUntil(async () => {
      // Time jumps for the whole server: on the time-skipping server scenarios run one at a time.
      if (!session.skipTime) return Promise.all(scenarios.map(runAndReport));
      const out: ScenarioResult[] = [];
      for (const scenario of scenarios) out.push(await runAndReport(scenario));
      return out;
    });
    return { results, problems: [], ...(hits ? { coverage: coverageReport(ws.catalog.steps, hits) } : {}) };
  } finally {
    await session.close();
  }
}

const POLL_MS = 100;
const FIRST_LEAP_MS = 1000;

/** How long until the task's latest park ends, by the server's clock; null when it is not parked (or it is over). */
async function remainingPark(
  clock: NonNullable<ScenarioSession['skipTime']>,
  handle: { query: (q: typeof eventsQuery, after: number) => Promise<TaskEventPage> },
): Promise<number | null> {
  const page = await handle.query(eventsQuery, 0);
  const parked = [...page.events].reverse().find((event) => event.type === 'parked');
  if (parked?.type !== 'parked') return null;
  const remaining = Date.parse(parked.at) + parked.ms - (await clock.now());
  return remaining > 0 ? remaining + 1 : null;
}

async function runOne(
  session: ScenarioSession,
  ws: Workspace,
  taskQueue: string,
  scenario: Scenario,
  log: (line: string) => void,
  onSettled?: (scenario: Scenario, snapshot: TaskSnapshot) => Promise<void>,
): Promise<ScenarioResult> {
  const client = session.client;
  const timeoutMs = scenario.timeoutMs ?? DEFAULT_SCENARIO_TIMEOUT_MS;
  const updates = scenario.updates ?? [];
  let taskId: string | undefined;
  let ended = false;
  /** Without a known wake-up time, time moves in growing leaps while the task waits. */
  let leapMs = FIRST_LEAP_MS;
  try {
    const handle = await startTask(client, {
      data: scenario.data,
      taskQueue,
      ...workspaceTaskSettings(ws.config),
    });
    taskId = handle.workflowId;
    log(`  ${scenario.name}: task ${taskId}`);
    const deadline = Date.now() + timeoutMs;
    let sent = 0;
    // The task's event stream, read from where the last poll left off: which steps ran, and the state.
    const ran = new Set<string>();
    let seen = 0;
    for (;;) {
      const progress = await handle.query(eventsQuery, seen);
      for (const event of progress.events) if (event.type === 'step-finished') ran.add(event.step);
      seen = progress.events.at(-1)?.seq ?? seen;
      if (progress.events.length > 0 && seen + 1 < progress.next) continue;
      const next = updates[sent];
      if (next && ran.has(next.afterStep) && !isTerminal(progress.state)) {
        await updateTask(client, taskId, next.data, { stashKey: stashKeysOf(ws.config) });
        log(`  ${scenario.name}: sent update ${sent + 1} after ${next.afterStep}`);
        sent += 1;
        continue;
      }
      const settled = progress.settled ?? isSettled(progress.state);
      if (settled) break;
      // A scenario that expects `waiting` is judged as soon as the task waits with nothing left to send.
      if (progress.state === 'waiting' && scenario.expectedState === 'waiting' && sent === updates.length) break;
      // Waiting for a timer: time jumps to it (time-skipping server); anything else runs in real time.
      if (session.skipTime && progress.state === 'waiting') {
        const wait = await remainingPark(session.skipTime, handle);
        await session.skipTime.advance(wait ?? leapMs);
        if (wait === null) leapMs *= 2;
        continue;
      }
      leapMs = FIRST_LEAP_MS;
      if (Date.now() > deadline) {
        const current = await getTask(client, taskId).catch(() => null);
        const steps = current ? ` (${current.trace.map((e) => e.step).join(', ') || 'no step ran'})` : '';
        return fail(scenario, {
          what: 'state',
          expected: scenario.expectedState,
          actual: `not settled within ${timeoutMs} ms: still ${current?.state ?? 'running'}${steps}`,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const snapshot: TaskSnapshot = await getTask(client, taskId);
    ended = isTerminal(snapshot.state);
    await onSettled?.(scenario, snapshot);
    const result = evaluateScenario(scenario, snapshot);
    const unsent = updates.slice(sent);
    if (unsent.length > 0) {
      result.failures.push({
        what: 'updates',
        expected: `data sent after ${unsent.map((u) => u.afterStep).join(', ')}`,
        actual: `${unsent[0]!.afterStep} never ran, so ${unsent.length} update${unsent.length === 1 ? ' was' : 's were'} not sent`,
      });
      result.passed = false;
    }
    return result;
  } catch (error) {
    return fail(scenario, {
      what: 'run',
      expected: 'the task to start and settle',
      actual: error instanceof Error ? error.message : String(error),
    });
  } finally {
    // attention, error, waiting and timed-out tasks stay alive; on a shared server nothing would ever end them.
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
