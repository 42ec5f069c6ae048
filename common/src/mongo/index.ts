export * from './connect';
export * from './outbox';
export * from './version-plugin';
