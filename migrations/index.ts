import { EventStore1764000000000 } from './1764000000000-event-store';

/** Listed by hand (not globbed) so they survive bundling. Append new ones at the end. */
export const migrations = [EventStore1764000000000];
