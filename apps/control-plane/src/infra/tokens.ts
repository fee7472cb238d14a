/** Injection tokens for the infrastructure the control plane wires together. */
export const DATABASE = Symbol('DATABASE');
export const NATS = Symbol('NATS');
export const CATALOG = Symbol('CATALOG');
