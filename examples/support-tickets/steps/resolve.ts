/**
 * Once assigned, the task is done with a short receipt. (A TypeScript step: tsx loads it as it is.)
 */
declare const data: { ticket: { id: string; priority: string; assignee: string; escalated?: boolean } };
declare const task: { complete(result?: unknown): void };

export const condition = { ticket: { id: String, assignee: String } };

export const content = async (): Promise<void> => {
  const { id, priority, assignee, escalated } = data.ticket;
  task.complete({ id, priority, assignee, escalated: escalated === true });
};
