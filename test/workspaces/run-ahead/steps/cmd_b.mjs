/** Renames the task: a command, so running ahead ends with this step. */
export const condition = { cmd: { a: true } };
export const content = async () => {
  data.cmd.b = true;
  task.name('renamed by cmd_b');
};
