import { EventStore1764000000000 } from './1764000000000-event-store';
import { NodeSnapshots1764100000000 } from './1764100000000-node-snapshots';
import { AuditIndexes1764200000000 } from './1764200000000-audit-indexes';
import { AdminTokens1764300000000 } from './1764300000000-admin-tokens';
import { Webhooks1764400000000 } from './1764400000000-webhooks';
import { NodeScaling1764500000000 } from './1764500000000-node-scaling';
import { ProcessArchive1764650000000 } from './1764650000000-process-archive';
import { LeaderLeases1764700000000 } from './1764700000000-leader-leases';

/** Listed by hand (not globbed) so they survive bundling. Append new ones at the end. */
export const migrations = [
  EventStore1764000000000,
  NodeSnapshots1764100000000,
  AuditIndexes1764200000000,
  AdminTokens1764300000000,
  Webhooks1764400000000,
  NodeScaling1764500000000,
  ProcessArchive1764650000000,
  LeaderLeases1764700000000,
];
