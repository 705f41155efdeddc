export const condition = { fragile: { api: String } };
export const options = { retry: { maximumAttempts: 1 } };
export const content = async () => {
  const answer = await connectors.svc.check({ api: data.fragile.api });
  task.complete(answer);
};
