// Reads a secret, sends it to an API, and keeps the session the API returns as a new secret.
export const condition = { $stash: { apiKey: String }, secretCall: { url: String, done: null } };
export const content = async () => {
  console.log(`calling with key ${data.$stash.apiKey}`);
  const response = await connectors.fetch.request({ url: data.secretCall.url, headers: { authorization: `Bearer ${data.$stash.apiKey}` } });
  data.$stash.session = response.body.session;
  data.secretCall.done = true;
};
