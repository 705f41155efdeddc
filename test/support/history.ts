import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * A task's raw history as Temporal stores it, plus every payload in it decoded from base64: a secret
 * must appear in neither.
 */
export async function historyText(client: Client, workflowId: string): Promise<{ raw: string; decoded: string }> {
  const raw = historyToJSON(await client.workflow.getHandle(workflowId).fetchHistory());
  const decoded = [...raw.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');
  return { raw, decoded };
}
