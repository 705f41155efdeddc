// 3 MB in one step: over whenflow's default data limit (maxDataBytes, 1.5 MiB), and more than the Temporal
// server takes in one payload (2 MB by default).
export const condition = { bad: 'too much' };
export const content = async () => {
  data.blob = 'x'.repeat(3_000_000);
};
