export const condition = { notify: { api: String, mode: String } };
export const content = async () => {
  const { api, mode } = data.notify;
  if (mode === 'slow') connectors.svc.slow({ api, note: 'unawaited slow call' });
  if (mode === 'broken') connectors.svc.broken({ api });
  if (mode === 'stored') data.receipt = connectors.svc.send({ api });
  task.complete();
};
