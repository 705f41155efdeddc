export const condition = { clear: true };
export const content = async () => {
  for (const key of Object.keys(data)) delete data[key];
};
