export const condition = { bad: 'method' };
export const content = async () => {
  await connectors.fetch.fetchAll({ url: 'http://127.0.0.1:9/' });
};
