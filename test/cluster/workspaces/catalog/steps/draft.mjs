// Drafts, then waits (parked) for a review to arrive as an update.
export const condition = { doc: { state: 'new' } };
export const content = async () => {
  data.doc.state = 'review';
  data.doc.log = ['draft'];
  task.park('1h');
};
