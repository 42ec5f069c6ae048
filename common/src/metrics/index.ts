export * from './registry';
export * from './http-metrics';
export * from './event-metrics';
export * from './server';
export * from './parse';
