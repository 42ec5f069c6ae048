export * from './create-app';
export * from './current-user';
export * from './error-handler';
export * from './health';
export * from './paging';
export * from './session-revocations';
export * from './validate-request';
