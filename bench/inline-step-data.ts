/**
 * The step-data decision as it was before large data went by reference: every step input carries the
 * whole data. bench/p4-scale.ts bundles the task workflow with this module in place of
 * src/cycle/step-data.ts to measure, in the same run, what inline data costs in history.
 */
import type { StepDataInput } from '../src/cycle/step-data';
import type { JsonObject } from '../src/model/json';

export function stepDataInput(data: JsonObject): StepDataInput {
  return { data };
}
