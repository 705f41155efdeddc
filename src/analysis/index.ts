/**
 * Gathers what catalog analysis needs from a workspace on disk: the steps' content sources, the sample
 * and scenario data, and the writes recorded by the last `whenflow test` run.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { z } from 'zod';
import type { JsonObject } from '../model/json';
import { loadScenarios, parseDataSource } from '../testing/scenarios';
import type { Workspace } from '../workspace/workspace';
import { analyzeCatalog, type Finding } from './catalog-check';

export { analyzeCatalog, satisfiable, type CatalogFacts, type Finding, type FindingKind } from './catalog-check';

/** Where `whenflow test` records the paths each step was seen writing, inside the workspace. */
export const OBSERVED_WRITES_FILE = join('.whenflow', 'observed-writes.json');

const observedSchema = z.object({ steps: z.record(z.string(), z.array(z.string())) });

async function textFiles(dir: string, extensions: readonly string[]): Promise<{ name: string; text: string }[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const chosen = names.filter((name) => extensions.includes(extname(name).toLowerCase())).sort();
  return Promise.all(chosen.map(async (name) => ({ name, text: await readFile(join(dir, name), 'utf8') })));
}

/** The writes recorded by `whenflow test`; null when none were recorded (or the file is unreadable). */
export async function readObservedWrites(workspaceDir: string): Promise<Record<string, string[]> | null> {
  const text = await readFile(join(workspaceDir, OBSERVED_WRITES_FILE), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const parsed = observedSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.steps : null;
  } catch {
    return null;
  }
}

/** Records the paths each step was seen writing (merged into what earlier runs recorded). */
export async function recordObservedWrites(workspaceDir: string, writes: Record<string, Iterable<string>>): Promise<void> {
  const known = (await readObservedWrites(workspaceDir)) ?? {};
  for (const [step, paths] of Object.entries(writes)) known[step] = [...new Set([...(known[step] ?? []), ...paths])].sort();
  await mkdir(join(workspaceDir, '.whenflow'), { recursive: true });
  await writeFile(join(workspaceDir, OBSERVED_WRITES_FILE), `${JSON.stringify({ steps: known }, null, 2)}\n`);
}

/** Catalog findings for a workspace that loaded without problems. */
export async function analyzeWorkspace(ws: Workspace): Promise<Finding[]> {
  const sources: Record<string, string> = {};
  for (const [name, step] of ws.steps) sources[name] = String(step.content);
  for (const library of await textFiles(join(ws.dir, 'libraries'), ['.js', '.mjs', '.ts']))
    sources[`libraries/${library.name}`] = library.text;
  const data: JsonObject[] = [];
  for (const sample of await textFiles(join(ws.dir, 'samples'), ['.json', '.yaml', '.yml'])) {
    const parsed = parseDataSource(sample.text, sample.name);
    if ('data' in parsed) data.push(parsed.data);
  }
  const { scenarios } = await loadScenarios(join(ws.dir, 'scenarios'));
  for (const scenario of scenarios) data.push(scenario.data, ...(scenario.updates ?? []).map((update) => update.data));
  const observed = await readObservedWrites(ws.dir);
  return analyzeCatalog({ steps: ws.catalog.steps, sources, data, ...(observed ? { observedWrites: observed } : {}) });
}
