import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type * as activities from './activities';
import type { ChainData } from './activities';

type StepName = (typeof activities.STEP_NAMES)[number];
const steps = proxyActivities<Pick<typeof activities, StepName>>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3 },
});

export interface ChainInput {
  data: ChainData;
}

/**
 * The hand-written baseline: runs s<at>..s10 one after the other, each activity getting the data the
 * previous one returned. Starting at 1 gives a 10-step chain, at 6 a 5-step chain (like whenflow's).
 */
export async function chainWorkflow(input: ChainInput): Promise<ChainData> {
  let data = input.data;
  while (data.chain.at <= 10) {
    const name = `s${String(data.chain.at).padStart(2, '0')}` as StepName;
    data = await steps[name](data);
  }
  return data;
}

const localSteps = proxyLocalActivities<Pick<typeof activities, StepName>>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3 },
});

/** The same chain with every activity a local activity: the hand-written code's fastest form. */
export async function chainWorkflowLocal(input: ChainInput): Promise<ChainData> {
  let data = input.data;
  while (data.chain.at <= 10) {
    const name = `s${String(data.chain.at).padStart(2, '0')}` as StepName;
    data = await localSteps[name](data);
  }
  return data;
}
