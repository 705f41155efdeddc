// Version 1; the test rewrites this file while tasks wait.
export const condition = { doc: { state: 'review', approved: true } };
export const content = async () => {
  data.doc.log.push('review@v1');
  data.doc.state = 'published';
  task.complete('v1');
};
