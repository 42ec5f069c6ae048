import mongoose from 'mongoose';
import pino from 'pino';
import { connectMongo, ferretdbProfile, mongodbProfile, serverProfile } from '..';
import { closeTestMongo, testMongoUri } from '../testing';

afterAll(closeTestMongo);

it("chooses the server's profile at connect time and says which", async () => {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });

  await connectMongo(testMongoUri(), { logger, maxAttempts: 3 });

  const chosen = logs.find((entry) => entry['msg'] === 'database server profile chosen');
  const profile = await serverProfile(mongoose.connection);
  expect([ferretdbProfile, mongodbProfile]).toContain(profile);
  expect(chosen).toMatchObject({ server: profile.server });
});
