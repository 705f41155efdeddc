export const condition = { bad: 'function' };
export const content = async () => {
  data.customer = {
    name: 'Ada',
    format() {
      return this.name;
    },
  };
};
