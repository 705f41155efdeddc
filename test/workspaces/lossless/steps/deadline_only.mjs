export const condition = { expiry: { ms: Number }, armed: null };
export const content = async () => {
  task.timeout(data.expiry.ms);
  task.completeOnExpire({ expired: true });
  data.armed = true;
};
