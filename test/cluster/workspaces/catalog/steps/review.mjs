// Version 1 of the catalog: an approved review is published.
export const condition = { doc: { state: 'review', approved: true } };
export const content = async () => {
  data.doc.log.push('review@v1');
  data.doc.state = 'published';
  task.complete('v1');
};
