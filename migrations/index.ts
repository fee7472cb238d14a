import { EventStore1764000000000 } from './1764000000000-event-store';
import { NodeSnapshots1764100000000 } from './1764100000000-node-snapshots';

/** Listed by hand (not globbed) so they survive bundling. Append new ones at the end. */
export const migrations = [EventStore1764000000000, NodeSnapshots1764100000000];
