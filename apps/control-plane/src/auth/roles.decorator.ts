import { SetMetadata } from '@nestjs/common';
import { AdminRole } from '@plexus/event-store';

export const ROLES = 'plexus:roles';

/**
 * Which roles may call a route. Without it: reads (GET) are open to every role and everything
 * else to `admin` only; so `operator` and `auditor` can never write unless a route says so.
 */
export const Roles = (...roles: AdminRole[]) => SetMetadata(ROLES, roles);
