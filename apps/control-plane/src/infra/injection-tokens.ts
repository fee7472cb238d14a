/** Injection tokens for the infrastructure the control plane wires together. */
export const DATABASE = Symbol('DATABASE');
/** The relay's own small pool: its checkpoints are written with synchronous_commit off. */
export const RELAY_DATABASE = Symbol('RELAY_DATABASE');
export const NATS = Symbol('NATS');
export const CATALOG = Symbol('CATALOG');
/** WriteLimits of node writes: the bus limit and the node limits of the environment. */
export const WRITE_LIMITS = Symbol('WRITE_LIMITS');

/** The SecretsCipher of PLEXUS_SECRETS_KEY: secrets are stored and published encrypted with it. */
export const SECRETS = Symbol('SECRETS');
