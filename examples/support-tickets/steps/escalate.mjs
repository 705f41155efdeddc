/**
 * A high-priority ticket goes to whoever is on call (a value of whenflow.yaml), and says so in the audit log.
 */
export const condition = { ticket: { priority: 'high', assignee: { $exists: false } } };

export const content = async () => {
  data.ticket.assignee = task.config('ON_CALL');
  data.ticket.escalated = true;
  audit.log(`escalated: ${data.ticket.subject}`);
};
