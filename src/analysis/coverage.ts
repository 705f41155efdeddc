/**
 * Scenario coverage: which steps ran, and which condition constraints and `$or` branches held when their
 * step ran, across the scenarios' tasks (each cycle rebuilt from the task's history). Per step, also how
 * often its condition matched and how often each constraint and branch held or failed on the data the
 * tasks were seen with (every cycle's data, and each task's data at the end): a constraint that never
 * failed was never tested against data it rejects. Pure except `coverageOfTask`, which reads one
 * task's history.
 */
import type { Client } from '@temporalio/client';
import { createMatcher, describeQuery } from '../conditions/match';
import type { CompiledCondition } from '../conditions/types';
import { readTaskHistory } from '../explain/history-fetch';
import { walkHistory, type RecordedRun } from '../explain/timeline';
import { isJsonObject, type JsonObject } from '../model/json';
import type { Catalog, CatalogStep } from '../model/task';

export interface CoverageItem {
  step: string;
  /** A top-level constraint of the step's condition (`order.status: "open"`), or `$or` branch N of one. */
  constraint: string;
  /** For `$or` / `$nor` branches: which branch (from 1) of which group. */
  branch?: { group: string; index: number };
  exercised: boolean;
  /** On how many of the data seen (`CoverageReport.dataSeen`) it held, and on how many it failed. */
  held: number;
  failed: number;
}

export interface CoverageReport {
  /** How many data the conditions were evaluated on: each cycle's data, and each task's data at the end. */
  dataSeen: number;
  /** Per step: its runs, and on how many of the data seen its condition matched (whether or not it could run). */
  steps: { step: string; runs: number; matched: number }[];
  items: CoverageItem[];
  /** Steps that never ran, and the constraints and branches never exercised. */
  neverRan: string[];
  neverExercised: CoverageItem[];
}

/** Hits per `step\0key`, where key names a constraint or branch; see the key functions below. */
export type CoverageHits = Map<string, number>;

const runsKey = (step: string) => `${step}\0`;
const exercisedKey = (step: string, item: string) => `${step}\0${item}`;
const matchedKey = (step: string) => `${step}\0\u0001matched`;
const heldKey = (step: string, item: string, held: boolean) => `${step}\0\u0001${held ? 'held' : 'failed'}\0${item}`;
const DATA_SEEN_KEY = '\0\u0001data';

const bump = (hits: CoverageHits, key: string) => hits.set(key, (hits.get(key) ?? 0) + 1);

/** Counts, for one data the task was seen with, which steps of its catalog matched and which items held. */
function countData(catalog: Catalog | null, data: JsonObject, hits: CoverageHits): void {
  if (!catalog) return;
  bump(hits, DATA_SEEN_KEY);
  for (const step of catalog.steps) {
    if (createMatcher(step.condition)(data)) bump(hits, matchedKey(step.name));
    for (const item of stepItems(step)) bump(hits, heldKey(step.name, item.key, createMatcher(asCondition(item.query))(data)));
  }
}

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
        out.push({
          key: `${description}#${index + 1}`,
          constraint: describeQuery(branch),
          branch: { group: description, index: index + 1 },
          query: branch,
        });
      });
    } else {
      out.push({ key: description, constraint: description, query: { $and: [item] } });
    }
  }
  return out;
}

/** Counts, for one task, the runs of each step and the items that held on the data each run was chosen on. */
export async function coverageOfTask(client: Client, taskId: string, hits: CoverageHits): Promise<void> {
  coverageOfRuns(await readTaskHistory(client, taskId, { fromCycle: 0 }), hits);
}

/** The same, for a task's runs as read from its history. */
export function coverageOfRuns(runs: readonly RecordedRun[], hits: CoverageHits): void {
  const end = walkHistory(runs, (record) => {
    countData(record.catalog, record.before, hits);
    for (const name of record.merged) {
      const step = record.catalog?.steps.find((s) => s.name === name);
      if (!step) continue;
      bump(hits, runsKey(name));
      for (const item of stepItems(step)) {
        if (createMatcher(asCondition(item.query))(record.before)) bump(hits, exercisedKey(name, item.key));
      }
    }
    return true;
  });
  countData(end.catalog, end.data, hits);
}

export function coverageReport(steps: readonly CatalogStep[], hits: CoverageHits): CoverageReport {
  const report: CoverageReport = { dataSeen: hits.get(DATA_SEEN_KEY) ?? 0, steps: [], items: [], neverRan: [], neverExercised: [] };
  for (const step of steps) {
    const runs = hits.get(runsKey(step.name)) ?? 0;
    report.steps.push({ step: step.name, runs, matched: hits.get(matchedKey(step.name)) ?? 0 });
    if (runs === 0) report.neverRan.push(step.name);
    for (const item of stepItems(step)) {
      const covered: CoverageItem = {
        step: step.name,
        constraint: item.constraint,
        ...(item.branch ? { branch: item.branch } : {}),
        exercised: (hits.get(exercisedKey(step.name, item.key)) ?? 0) > 0,
        held: hits.get(heldKey(step.name, item.key, true)) ?? 0,
        failed: hits.get(heldKey(step.name, item.key, false)) ?? 0,
      };
      report.items.push(covered);
      if (!covered.exercised) report.neverExercised.push(covered);
    }
  }
  return report;
}

export function formatCoverage(report: CoverageReport): string {
  const ran = report.steps.filter((s) => s.runs > 0).length;
  const exercised = report.items.length - report.neverExercised.length;
  const lines = [
    `coverage: ${ran}/${report.steps.length} steps ran, ${exercised}/${report.items.length} constraints and branches exercised`,
  ];
  if (report.neverRan.length > 0) lines.push(`  never ran: ${report.neverRan.join(', ')}`);
  for (const item of report.neverExercised) {
    if (report.neverRan.includes(item.step) && !item.branch) continue;
    lines.push(
      item.branch
        ? `  never taken: ${item.step} ${item.branch.group} branch ${item.branch.index} (${item.constraint})`
        : `  never exercised: ${item.step} ${item.constraint}`,
    );
  }
  lines.push(`  per step, on ${report.dataSeen} data seen (each cycle's, and each task's at the end):`);
  for (const step of report.steps) {
    lines.push(`    ${step.step}: ran ${step.runs}, matched ${step.matched}`);
    for (const item of report.items.filter((i) => i.step === step.step)) {
      const name = item.branch ? `${item.branch.group} branch ${item.branch.index} (${item.constraint})` : item.constraint;
      const gap = item.held === 0 ? '  ← never held' : item.failed === 0 ? '  ← never failed' : '';
      lines.push(`      ${name}: held ${item.held}, failed ${item.failed}${gap}`);
    }
  }
  return lines.join('\n');
}
