export * from './etcd.server';
export * from './nats-kv.fleet';
export * from './peer.writes';
