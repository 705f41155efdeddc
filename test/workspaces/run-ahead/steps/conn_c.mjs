/** Runs after the connector call, in an activity of its own. */
export const condition = { conn: { b: true } };
export const content = async () => {
  data.conn.c = true;
};
