/**
 * Scenario coverage: which steps ran, and which condition constraints and `$or` branches held when their
 * step ran, across the scenarios' tasks (each cycle rebuilt from the task's history). Pure except
 * `coverageOfTask`, which reads one task's history.
 */
import type { Client } from '@temporalio/client';
import { createMatcher, describeQuery } from '../conditions/match';
import type { CompiledCondition } from '../conditions/types';
import { readTaskHistory } from '../explain/history-fetch';
import { walkHistory } from '../explain/timeline';
import { isJsonObject, type JsonObject } from '../model/json';
import type { CatalogStep } from '../model/task';

export interface CoverageItem {
  step: string;
  /** A top-level constraint of the step's condition (`order.status: "open"`), or `$or` branch N of one. */
  constraint: string;
  /** For `$or` / `$nor` branches: which branch (from 1) of which group. */
  branch?: { group: string; index: number };
  exercised: boolean;
}

export interface CoverageReport {
  steps: { step: string; runs: number }[];
  items: CoverageItem[];
  /** Steps that never ran, and the constraints and branches never exercised. */
  neverRan: string[];
  neverExercised: CoverageItem[];
}

/** Hits per `step\0key`, where key names a constraint or branch. */
export type CoverageHits = Map<string, number>;

const asCondition = (query: JsonObject): CompiledCondition => ({ query, specificity: 0, constraints: [] });

function itemsOf(query: JsonObject): JsonObject[] {
  const and = query.$and;
  if (Array.isArray(and)) return and.filter(isJsonObject);
  return Object.keys(query).length ? [query] : [];
}

/** The coverage items of a step: its top-level constraints, and each branch of its `$or` / `$nor` groups. */
function stepItems(step: CatalogStep): { key: string; constraint: string; branch?: { group: string; index: number }; query: JsonObject }[] {
  const out: { key: string; constraint: string; branch?: { group: string; index: number }; query: JsonObject }[] = [];
  for (const item of itemsOf(step.condition.query)) {
    const group = Array.isArray(item.$or) ? item.$or : null;
    const description = describeQuery({ $and: [item] });
    if (group) {
      group.filter(isJsonObject).forEach((branch, index) => {
        out.push({ key: `${description}#${index + 1}`, constraint: describeQuery(branch), branch: { group: description, index: index + 1 }, query: branch });
      });
    } else {
      out.push({ key: description, constraint: description, query: { $and: [item] } });
    }
  }
  return out;
}

/** Counts, for one task, the runs of each step and the items that held on the data each run was chosen on. */
export async function coverageOfTask(client: Client, taskId: string, hits: CoverageHits): Promise<void> {
  const runs = await readTaskHistory(client, taskId, { fromCycle: 0 });
  walkHistory(runs, (record) => {
    for (const name of record.merged) {
      const step = record.catalog?.steps.find((s) => s.name === name);
      if (!step) continue;
      hits.set(`${name}\0`, (hits.get(`${name}\0`) ?? 0) + 1);
      for (const item of stepItems(step)) {
        if (createMatcher(asCondition(item.query))(record.before)) hits.set(`${name}\0${item.key}`, (hits.get(`${name}\0${item.key}`) ?? 0) + 1);
      }
    }
    return true;
  });
}

export function coverageReport(steps: readonly CatalogStep[], hits: CoverageHits): CoverageReport {
  const report: CoverageReport = { steps: [], items: [], neverRan: [], neverExercised: [] };
  for (const step of steps) {
    const runs = hits.get(`${step.name}\0`) ?? 0;
    report.steps.push({ step: step.name, runs });
    if (runs === 0) report.neverRan.push(step.name);
    for (const item of stepItems(step)) {
      const covered: CoverageItem = { step: step.name, constraint: item.constraint, ...(item.branch ? { branch: item.branch } : {}), exercised: (hits.get(`${step.name}\0${item.key}`) ?? 0) > 0 };
      report.items.push(covered);
      if (!covered.exercised) report.neverExercised.push(covered);
    }
  }
  return report;
}

export function formatCoverage(report: CoverageReport): string {
  const ran = report.steps.filter((s) => s.runs > 0).length;
  const exercised = report.items.length - report.neverExercised.length;
  const lines = [`coverage: ${ran}/${report.steps.length} steps ran, ${exercised}/${report.items.length} constraints and branches exercised`];
  if (report.neverRan.length > 0) lines.push(`  never ran: ${report.neverRan.join(', ')}`);
  for (const item of report.neverExercised) {
    if (report.neverRan.includes(item.step) && !item.branch) continue;
    lines.push(item.branch ? `  never taken: ${item.step} ${item.branch.group} branch ${item.branch.index} (${item.constraint})` : `  never exercised: ${item.step} ${item.constraint}`);
  }
  return lines.join('\n');
}
