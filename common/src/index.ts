export * from './config';
export * from './errors';
export * from './events';
export * from './http';
export * from './lifecycle';
export * from './log';
export * from './money';
export * from './mongo';
