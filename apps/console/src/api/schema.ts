// The admin API's types, generated from the committed openapi.json (npm run openapi): the console
// reads the same contract the CLI does. Types only, so nothing of the CLI reaches the bundle.
import type { components } from '../../../cli/src/api/plexus-api.schema';

type Schemas = components['schemas'];
export type NodeSummary = Schemas['NodeSummary'];
export type NodeDocument = Schemas['NodeDocument'];
export type ModuleSpec = Schemas['ModuleSpec'];
export type NodeWriteAnswer = Schemas['NodeWriteAnswer'];
export type Rollout = Schemas['Rollout'];
export type RolloutProcess = Rollout['processes'][number];
export type Process = Schemas['Process'];
export type ModuleStatus = Schemas['ModuleStatus'];
export type PlexusEvent = Schemas['Event'];
export type EventPage = Schemas['EventPage'];
export type NodeDiff = Schemas['NodeDiff'];
export type KeyChange = Schemas['KeyChange'];
export type ModuleType = Schemas['ModuleType'];
export type ConfigKey = ModuleType['config'][number];
export type ScalingState = Schemas['ScalingState'];
export type ScalingPolicy = Schemas['ScalingPolicy'];
export type BatchJob = Schemas['BatchJob'];
export type BatchJobList = Schemas['BatchJobList'];
export type ApiErrorBody = Schemas['ApiError'];
