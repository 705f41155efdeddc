/**
 * The workflows of a team's own Temporal worker, with whenflow's task workflow registered next to them
 * (an installed package re-exports it from 'whenflow/workflows').
 */
import { proxyActivities } from '@temporalio/workflow';

export { taskWorkflow } from '../../src/workflows';

const { shout } = proxyActivities<{ shout(text: string): Promise<string> }>({ startToCloseTimeout: '10 seconds' });

/** The team's own workflow: one activity of its own. */
export async function greetingWorkflow(name: string): Promise<string> {
  return shout(`hello, ${name}`);
}
