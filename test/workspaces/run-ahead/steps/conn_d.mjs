/** Completes the task. */
export const condition = { conn: { c: true } };
export const content = async () => {
  data.conn.d = true;
  task.complete();
};
