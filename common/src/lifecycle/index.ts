export * from './shutdown';
export * from './run-service';
