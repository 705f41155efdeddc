/** Closes a resolved ticket. */
export const condition = { ticket: { state: 'resolved' } };

export const content = async () => {
  data.ticket.state = 'closed';
};
