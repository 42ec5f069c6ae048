export * from './bus';
export * from './events';
export * from './listener';
export * from './publisher';
export * from './subjects';
export * from './validate';
