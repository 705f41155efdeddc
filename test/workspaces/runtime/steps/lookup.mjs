// A deferred connector call: the CRM lookup runs after this step, as its own activity.
export const condition = { lookup: { email: String, requested: null } };
export const content = async () => {
  await connectors.crm.find({ api: data.lookup.api, email: data.lookup.email, into: 'lookup.contact' });
  data.lookup.requested = true;
};
