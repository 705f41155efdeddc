/**
 * A new ticket gets a priority from its subject: outages and urgent requests are high.
 */
export const condition = { ticket: { subject: String, priority: { $exists: false } } };

export const content = async () => {
  const urgent = /\b(down|outage|urgent)\b/i.test(data.ticket.subject);
  data.ticket.priority = urgent ? 'high' : 'normal';
};
