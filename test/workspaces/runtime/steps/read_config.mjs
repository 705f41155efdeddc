export const condition = { needsConfig: true };
export const content = async () => {
  data.channel = task.config('CHANNEL');
  data.region = task.config('REGION');
  data.needsConfig = false;
};
