import { TEST_JWT_KEY, silentLogger } from '@ticketing/common/testing';
import type { Express } from 'express';
import { buildApp } from '../app';
import { loadAuthConfig } from '../config';

export const PASSWORD = 'correct horse battery';

export function testApp(overrides: Record<string, string> = {}): Express {
  const config = loadAuthConfig({
    MONGO_URI: 'mongodb://unused.invalid/auth',
    JWT_KEY: TEST_JWT_KEY,
    NODE_ENV: 'test',
    // Every test here signs up from 127.0.0.1; the rate-limit tests set their own small limit.
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    ...overrides,
  });
  return buildApp(config, silentLogger, { mongo: () => true });
}

let counter = 0;
/** A fresh email per call, so tests never depend on each other's users. */
export function uniqueEmail(): string {
  counter += 1;
  return `user${counter}-${process.pid}-${Date.now()}@example.com`;
}
