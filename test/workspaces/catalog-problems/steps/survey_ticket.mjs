/** Same condition as close_ticket, which ranks first (by name) and changes ticket.state: this never runs. */
export const condition = { ticket: { state: 'resolved' } };

export const content = async () => {
  data.ticket.surveyed = true;
};
