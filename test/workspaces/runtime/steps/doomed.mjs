export const condition = { doomed: { url: String, requested: null } };
export const content = async () => {
  await connectors.fetch.request({ url: data.doomed.url, throwOnError: true, into: 'doomed.response' });
  data.doomed.requested = true;
};
