import pc from 'picocolors';
import { planReload } from '../../analysis/plan';
import { withSession } from '../connect';
import { readWorkspace } from '../input';
import { table } from '../table';
import type { Io } from './task';

/** `whenflow plan`: the live tasks whose next step would change after a reload of the workspace's steps. */
export async function planCommand(opts: { workspace: string; name?: string; tag?: string; json: boolean }, io: Io): Promise<void> {
  const ws = await readWorkspace(opts.workspace);
  const plan = await withSession(({ client }) =>
    planReload(client, ws.catalog, { ...(opts.name ? { name: opts.name } : {}), ...(opts.tag ? { tag: opts.tag } : {}) }),
  );
  if (opts.json) {
    io.out(JSON.stringify(plan));
    return;
  }
  if (plan.changes.length === 0) {
    io.out(pc.dim(`no change: a reload leaves the next step of all ${plan.checked} live task${plan.checked === 1 ? '' : 's'} as it is`));
    return;
  }
  const steps = (names: string[]) => (names.length ? names.join(', ') : pc.dim('none (attention)'));
  io.out(
    table(
      ['task', 'name', 'state', 'next step now', 'after reload'],
      plan.changes.map((c) => [c.taskId, c.name, c.state, steps(c.now), steps(c.afterReload)]),
    ),
  );
  io.out(
    pc.dim(`${plan.changes.length} of ${plan.checked} live tasks would change; \`whenflow task reload <id>\` applies the new steps to one`),
  );
}
