/** Starts a chain whose second step calls a connector. */
export const condition = { conn: { url: String, start: true } };
export const content = async () => {
  data.conn.a = true;
};
