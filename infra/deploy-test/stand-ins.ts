/**
 * Images that stand in for what cannot be pulled here: FerretDB for mongo, nats-streaming-server,
 * Redis and nginx from Debian, and stripe-mock behind Stripe's test mode, each built from the
 * harness's own binaries on the Node base.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildImage, imageExists, type BuildSpec } from './images';
import { podmanOk, type Log } from './podman';

/** Stand-in images of the third-party servers, all FROM the node base (Debian bookworm). */
export interface StandIns {
  mongo: string;
  nats: string;
  redis: string;
  stripe: string;
  ingress: string;
}

/** The compiled test-mode front: the server and the two modules it requires (no other dependency). */
const STRIPE_FRONT_FILES = ['stripe-test-mode.js', 'stripe-intents.js', 'stripe-types.js'];

const NAMES: StandIns = {
  mongo: 'localhost/ticketing-test/mongo-ferretdb',
  nats: 'localhost/ticketing-test/nats-streaming',
  redis: 'localhost/ticketing-test/redis',
  stripe: 'localhost/ticketing-test/stripe-mock',
  ingress: 'localhost/ticketing-test/ingress-nginx',
};

/** The build of each stand-in: a Containerfile and what it copies, in a fresh context folder. */
function standInSpecs(base: string, toolsBin: string, workDir: string): Array<[keyof StandIns, BuildSpec]> {
  const copyBinary = (name: string, binary: string, containerfile: string): BuildSpec => {
    const context = mkdtempSync(path.join(workDir, `${name}-`));
    const source = path.join(toolsBin, binary);
    if (!existsSync(source)) throw new Error(`${source} is missing: run \`npm run tools\` first`);
    copyFileSync(source, path.join(context, binary));
    writeFileSync(path.join(context, 'Containerfile'), containerfile);
    return { tag: '', dockerfile: path.join(context, 'Containerfile'), context };
  };
  // stripe-mock keeps no state, so no PaymentIntent it answers ever succeeds: as in the tests, Stripe's
  // test mode (infra/dev/lib/stripe-test-mode.ts, compiled) runs in front of it, on the port
  // payments is given, with stripe-mock behind it on loopback.
  const stripeStandIn = (): BuildSpec => {
    const spec = copyBinary(
      'stripe',
      'stripe-mock',
      `FROM ${base}\nCOPY stripe-mock /usr/local/bin/stripe-mock\nCOPY ${STRIPE_FRONT_FILES.join(' ')} front.js entrypoint.sh /stripe/\nUSER 1000:1000\nENTRYPOINT ["/bin/sh", "/stripe/entrypoint.sh"]\n`,
    );
    for (const file of STRIPE_FRONT_FILES) {
      const compiled = path.join(toolsBin, '..', '..', 'infra', 'dev', 'dist', 'lib', file);
      if (!existsSync(compiled))
        throw new Error(`${compiled} is missing: run \`npm run build -w @ticketing/devinfra\` first`);
      copyFileSync(compiled, path.join(spec.context, file));
    }
    writeFileSync(
      path.join(spec.context, 'front.js'),
      "require('./stripe-test-mode.js').startStripeTestMode('http://127.0.0.1:12112', 12111, '0.0.0.0');\n",
    );
    writeFileSync(
      path.join(spec.context, 'entrypoint.sh'),
      '#!/bin/sh\n/usr/local/bin/stripe-mock -http-addr 127.0.0.1:12112 -https-addr 127.0.0.1:0 &\nexec node /stripe/front.js\n',
    );
    return spec;
  };
  const specs: Array<[keyof StandIns, BuildSpec]> = [
    [
      'mongo',
      // FerretDB (the MongoDB wire protocol on SQLite) stands in for mongod: the StatefulSet's mongod
      // arguments do not apply to it, so its command is fixed here.
      copyBinary(
        'mongo',
        'ferretdb',
        `FROM ${base}\nCOPY ferretdb /usr/local/bin/ferretdb\nUSER 999:999\nENTRYPOINT ["/usr/local/bin/ferretdb", "-listen", "0.0.0.0:27017", "-dir", "/data/db", "-log-level", "warn"]\n`,
      ),
    ],
    [
      'nats',
      // As the official image: the server is the entrypoint, the StatefulSet's args are its flags.
      copyBinary(
        'nats',
        'nats-streaming-server',
        `FROM ${base}\nCOPY nats-streaming-server /nats-streaming-server\nENTRYPOINT ["/nats-streaming-server"]\n`,
      ),
    ],
    ['stripe', stripeStandIn()],
  ];
  // redis-server from Debian. The official image builds Redis with protected mode off (it listens on
  // every interface without a password inside the pod network); the entrypoint does the same here.
  const redisContext = mkdtempSync(path.join(workDir, 'redis-'));
  writeFileSync(
    path.join(redisContext, 'entrypoint.sh'),
    '#!/bin/sh\nif [ "$1" = redis-server ]; then shift; exec redis-server "$@" --protected-mode no; fi\nexec "$@"\n',
  );
  writeFileSync(
    path.join(redisContext, 'Containerfile'),
    `FROM ${base}\nRUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*\n` +
      'COPY --chmod=755 entrypoint.sh /usr/local/bin/entrypoint.sh\nENTRYPOINT ["/usr/local/bin/entrypoint.sh"]\nCMD ["redis-server"]\n',
  );
  specs.push(['redis', { tag: '', dockerfile: path.join(redisContext, 'Containerfile'), context: redisContext }]);
  // nginx from Debian: what ingress-nginx is made of; its configuration is written from ingress.yaml
  // at run time and mounted.
  const nginxContext = mkdtempSync(path.join(workDir, 'nginx-'));
  writeFileSync(
    path.join(nginxContext, 'Containerfile'),
    `FROM ${base}\nRUN apt-get update && apt-get install -y --no-install-recommends nginx-light && rm -rf /var/lib/apt/lists/*\n` +
      'CMD ["nginx", "-g", "daemon off;"]\n',
  );
  specs.push(['ingress', { tag: '', dockerfile: path.join(nginxContext, 'Containerfile'), context: nginxContext }]);
  return specs;
}

/** Builds the images that stand in for the StatefulSets' servers, stripe and the ingress controller, when stale. */
export async function buildStandIns(base: string, toolsBin: string, workDir: string, log: Log): Promise<StandIns> {
  for (const [key, spec] of standInSpecs(base, toolsBin, workDir)) {
    const tag = NAMES[key];
    // Keyed by base and binary: a stand-in is rebuilt when either changes (a label holds the key).
    const key2 = `${(await podmanOk(['image', 'inspect', '--format', '{{.Id}}', base])).trim()}:${fingerprint(spec.context)}`;
    if (await imageExists(tag)) {
      const have = (await podmanOk(['image', 'inspect', '--format', '{{index .Labels "ticketing.key"}}', tag])).trim();
      if (have === key2) continue;
    }
    log(`building stand-in ${tag}`);
    await buildImage({ ...spec, tag, extra: ['--label', `ticketing.key=${key2}`] }, log);
  }
  return NAMES;
}

function fingerprint(dir: string): string {
  const out = execFileSync('sh', ['-c', 'find . -type f | sort | xargs sha256sum | sha256sum'], {
    cwd: dir,
    encoding: 'utf8',
  });
  return out.slice(0, 16);
}
