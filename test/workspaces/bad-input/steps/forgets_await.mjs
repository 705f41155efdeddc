// Calls a connector without awaiting it; the call fails after the step has finished.
export const condition = { bad: 'unawaited' };
export const content = async () => {
  connectors.fetch.get({ url: 'http://127.0.0.1:9/nothing-listens-here' });
  data.sent = true;
  task.complete('sent');
};
