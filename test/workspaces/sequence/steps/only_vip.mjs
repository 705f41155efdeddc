/** A guard: in a sequence this step runs only for VIP customers and is skipped otherwise. */
export const condition = { log: Array, customer: { vip: true } };
export const content = async () => {
  data.log.push('vip');
};
