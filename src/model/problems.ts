/** Something wrong in a file of a workspace, located as precisely as possible. */
export interface FileProblem {
  file: string;
  /** Where inside the file, e.g. `condition.order.status` or `defaults.retry.maximumAttempts`. */
  path?: string;
  message: string;
}

/** One indented line: `  steps/a.mjs (condition.x): message`. */
export function formatProblem(problem: FileProblem): string {
  return `  ${problem.file}${problem.path ? ` (${problem.path})` : ''}: ${problem.message}`;
}

/** `N problem(s) in <where>:` followed by one line per problem. */
export function describeProblems(problems: readonly FileProblem[], where: string): string {
  return `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${where}:\n${problems.map(formatProblem).join('\n')}`;
}
