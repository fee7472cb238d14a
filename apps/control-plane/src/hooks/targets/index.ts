export type { AddressCategory, WebhookTargetPolicy } from './target-policy';
export {
  classifyAddress,
  parseWebhookTargetPolicy,
  TARGET_KEYWORDS,
  targetAddressProblem,
  targetHostProblem,
} from './target-policy';
export type { LookupAll } from './target-resolution';
export { pinnedLookup, resolveTarget, systemLookup } from './target-resolution';
