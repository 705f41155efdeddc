export const condition = { idle: true };
export const content = async () => {
  data.idle = 'waiting for more';
};
