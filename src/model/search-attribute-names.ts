/**
 * whenflow's custom search attributes as plain names and types: the embedded dev server is started with
 * them before the Temporal SDK has loaded (search-attributes.ts makes the SDK's keys of them).
 */
export const TASK_SEARCH_ATTRIBUTE_TYPES = {
  WhenflowState: 'KEYWORD',
  WhenflowName: 'KEYWORD',
  WhenflowTags: 'KEYWORD_LIST',
} as const;
