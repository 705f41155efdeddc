export const condition = { finishWith: { api: String, kind: 'call' } };
export const content = async () => {
  connectors.svc.quote({ api: data.finishWith.api, into: 'quote' });
  task.complete('asked');
};
