export const condition = { log: Array };
export const content = async () => {
  data.log.push('b');
};
