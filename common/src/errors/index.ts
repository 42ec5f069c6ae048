export * from './app-error';
export * from './codes';
export * from './to-app-error';
export * from './report';
