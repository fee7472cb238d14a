import { JobType } from '../job-types';
import { analyzeTablesJobType } from './analyze-tables.job-type';
import { sampleRowsJobType } from './sample-rows.job-type';

/** Job types every persistence module can run, each with `params: {}`. */
export const BUILT_IN_JOB_TYPES: JobType<any>[] = [sampleRowsJobType, analyzeTablesJobType];
