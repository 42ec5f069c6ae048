export * from './connect';
export * from './outbox';
export * from './version-plugin';
export * from './server-profile';
export * from './run-exclusive';
export * from './change-record';
export * from './api-json';
export * from './group-insert';
