/**
 * Actors the control plane writes into the audit log (event metadata) itself. A named token's
 * name is the actor of what it causes, so no token may take one of these names, in any case:
 * `?actor=control-plane` must find what the control plane did, and nothing else. Processes
 * (`process:<id>`) and schedules (`schedule:<id>`) contain ":", which token names cannot.
 */
export const BOOTSTRAP_ACTOR = 'admin'; // the PLEXUS_ADMIN_TOKEN
export const CONTROL_PLANE_ACTOR = 'control-plane'; // failure detector, config reports, autoscaler
export const ANONYMOUS_ACTOR = 'anonymous'; // a write without an identified caller

export const RESERVED_ACTORS: readonly string[] = [
  BOOTSTRAP_ACTOR,
  CONTROL_PLANE_ACTOR,
  ANONYMOUS_ACTOR,
];

export const isReservedActor = (name: string) => RESERVED_ACTORS.includes(name.toLowerCase());
