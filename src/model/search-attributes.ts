import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes, so `temporal workflow list --query 'WhenflowState="error"'` finds tasks by state. */
export const TASK_STATE_KEY = defineSearchAttributeKey('WhenflowState', SearchAttributeType.KEYWORD);
export const TASK_NAME_KEY = defineSearchAttributeKey('WhenflowName', SearchAttributeType.KEYWORD);
export const TASK_TAGS_KEY = defineSearchAttributeKey('WhenflowTags', SearchAttributeType.KEYWORD_LIST);

export const TASK_SEARCH_ATTRIBUTES = [TASK_STATE_KEY, TASK_NAME_KEY, TASK_TAGS_KEY];
