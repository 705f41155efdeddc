/** A step that may run long (timeout 2 minutes): a regular activity. */
export const condition = { long: { wanted: true } };
export const options = { timeout: '2m' };
export const content = async () => {
  data.long.wanted = false;
  data.long.ranAs = `${step.name} #${step.attempt}`;
};
