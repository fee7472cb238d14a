export * from './secrets-cipher';
