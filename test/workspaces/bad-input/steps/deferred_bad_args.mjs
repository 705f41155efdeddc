export const condition = { bad: 'deferred args' };
export const content = async () => {
  // The arguments are checked by the connector method, in the deferred call's own activity.
  connectors.utils.sleep({ ms: -1, into: 'slept' });
};
