export * from './tokens';
export * from './realm';
export * from './expiry';
export * from './session-record';
export * from './bucket';
export * from './session-store';
