import { defineSearchAttributeKey } from '@temporalio/common';
import { TASK_SEARCH_ATTRIBUTE_TYPES as TYPES } from './search-attribute-names';

/** Custom search attributes, so `temporal workflow list --query 'WhenflowState="error"'` finds tasks by state. */
export const TASK_STATE_KEY = defineSearchAttributeKey('WhenflowState', TYPES.WhenflowState);
export const TASK_NAME_KEY = defineSearchAttributeKey('WhenflowName', TYPES.WhenflowName);
export const TASK_TAGS_KEY = defineSearchAttributeKey('WhenflowTags', TYPES.WhenflowTags);

export const TASK_SEARCH_ATTRIBUTES = [TASK_STATE_KEY, TASK_NAME_KEY, TASK_TAGS_KEY];
