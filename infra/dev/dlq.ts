/**
 * `npm run dlq -- list | replay <seq> | replay --all`: the dead letters of a JetStream bus (messages
 * whose last allowed delivery failed, and poison messages) and their replay to the consumer that
 * failed them. NATS_URL says where the server is (nats://127.0.0.1:4222 by default); --prefix P
 * (or NATS_CHANNEL_PREFIX) selects a bus with a channel prefix, as the tests use.
 */
import { listDeadLetters, replayDeadLetters, type DeadLetter } from '../../common/src/events/dead-letters';

const USAGE = `usage: npm run dlq -- list | replay <seq> | replay --all  [--prefix P]
  list           every dead letter: sequence, subject, consumer, deliveries, reason
  replay <seq>   sends that dead letter again to the consumer that failed it, and removes it
  replay --all   the same for every dead letter
  environment:   NATS_URL (default nats://127.0.0.1:4222), NATS_CHANNEL_PREFIX`;

function line(l: DeadLetter): string {
  return [String(l.sequence), l.subject, l.consumer, `${l.deliveries}x`, l.failedAt, l.eventId ?? '-', l.reason].join(
    '\t',
  );
}

export async function main(argv: string[], out: (text: string) => void): Promise<number> {
  let prefix = process.env['NATS_CHANNEL_PREFIX'] ?? '';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--prefix') prefix = argv[++i] ?? '';
    else rest.push(arg);
  }
  const target = { url: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222', channelPrefix: prefix };
  const [command, which] = rest;
  if (command === 'list' && which === undefined) {
    const letters = await listDeadLetters(target);
    out(
      letters.length === 0
        ? 'no dead letters'
        : ['seq\tsubject\tconsumer\tdeliveries\tfailed at\tevent id\treason', ...letters.map(line)].join('\n'),
    );
    return 0;
  }
  if (command === 'replay' && which !== undefined) {
    if (which !== '--all' && !/^\d+$/.test(which)) {
      out(`invalid sequence "${which}"\n${USAGE}`);
      return 2;
    }
    const replayed = await replayDeadLetters(target, which === '--all' ? 'all' : Number(which));
    out(
      `replayed ${replayed.length} dead letter${replayed.length === 1 ? '' : 's'}${replayed.map((l) => `\n${line(l)}`).join('')}`,
    );
    return 0;
  }
  out(USAGE);
  return command === '--help' || command === '-h' ? 0 : 2;
}

if (require.main === module) {
  main(process.argv.slice(2), (text) => process.stdout.write(`${text}\n`)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
