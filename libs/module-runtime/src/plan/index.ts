export * from './reconcile-plan';
export * from './same-spec';
export * from './dependency-order';
export * from './lease-owner';
