import { readFile, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { isJsonObject, type JsonObject } from '../model/json';
import { WorkspaceConfigError, openWorkspace, type Workspace, type WorkspaceProblem } from '../workspace/workspace';
import { UsageError } from './errors';

/**
 * Task data (or a patch) as every command takes it: `-d/--data JSON` inline, or `-f/--file FILE`. Each
 * message names the flag that was used and the position of a syntax error. A file ending in `.yaml` or
 * `.yml` is YAML (as hosted workspaces keep their example tasks), any other JSON.
 */
export async function readTaskData(options: { data?: string; file?: string }, what = 'task data'): Promise<JsonObject> {
  if (options.data !== undefined && options.file !== undefined)
    throw new UsageError(`give the ${what} once: either -d/--data JSON or -f/--file FILE`);
  let text: string;
  let source: string;
  if (options.file !== undefined) {
    source = `-f ${options.file}`;
    try {
      text = await readFile(options.file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `cannot read the ${what} file given with -f/--file ${options.file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
  } else if (options.data !== undefined) {
    source = '-d/--data';
    text = options.data;
    // `--data FILE` was this command's spelling once: say what to write instead of a JSON error.
    if (!/^\s*[[{"\d-]|^\s*(true|false|null)\s*$/.test(text) && (await stat(text).catch(() => null))?.isFile()) {
      throw new UsageError(`-d/--data takes the ${what} as inline JSON; ${text} is a file: give it with -f/--file ${text}`);
    }
  } else {
    throw new UsageError(`the ${what} is required: -d/--data JSON, or -f/--file FILE`);
  }
  let value: unknown;
  if (options.file !== undefined && ['.yaml', '.yml'].includes(extname(options.file).toLowerCase())) {
    value = parseYamlData(text, source);
  } else {
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`the ${what} from ${source} is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!isJsonObject(value)) {
    throw new UsageError(
      `the ${what} from ${source} must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  return value;
}

function parseYamlData(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const at = first.linePos?.[0];
    const reason = (first.message.split('\n')[0] ?? first.message).replace(/ at line \d+, column \d+:?$/, '');
    throw new UsageError(`task data from ${source} is not valid YAML${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${reason}`);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (error) {
    throw new UsageError(`task data from ${source} cannot be read as YAML: ${(error as Error).message}`);
  }
}

/** Opens a workspace for a command, turning every problem (steps, connectors, whenflow.yaml) into one usage error. */
export async function readWorkspace(
  dir: string,
  options: { tolerateBrokenSteps?: (problems: WorkspaceProblem[]) => void } = {},
): Promise<Workspace> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new UsageError(`workspace ${resolve(dir)} is not a directory`);
  const workspace = await openWorkspace(dir);
  const { tolerateBrokenSteps } = options;
  const stepProblems = workspace.problems.filter((p) => p.kind === 'step');
  if (tolerateBrokenSteps && stepProblems.length === workspace.problems.length) {
    if (stepProblems.length > 0) tolerateBrokenSteps(stepProblems);
    return workspace;
  }
  if (workspace.problems.length > 0) throw new UsageError(new WorkspaceConfigError(resolve(dir), workspace.problems).message);
  return workspace;
}

export { parsePositiveInt, parseStepList } from './arguments';
