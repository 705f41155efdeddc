export const condition = { typo: { api: String } };
export const content = async () => {
  await connectors.svc.send({ api: data.typo.api, what: 'side effect before the typo' });
  dta.typo.done = true;
};
