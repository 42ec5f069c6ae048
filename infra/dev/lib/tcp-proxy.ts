import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of one server, for fault tests: it can cut every connection and
 * refuse new ones (a network partition of whoever connects through it), and, for a MongoDB wire
 * protocol server, hold one command on its way to the server while cutting its client off, so the
 * client sees a network error and the command reaches the server only later, its reply lost: a
 * write whose outcome the client cannot know, still in flight after the client gave up.
 */

/** A client → server MongoDB message (OP_MSG), as far as the proxy reads it. */
export interface WireCommand {
  /** The command's name: the first key of its body (`insert`, `update`, `find`, ...). */
  name: string;
  /** Its first value when it is a string: the collection, for CRUD commands. */
  collection: string | undefined;
}

export interface HeldCommand {
  /** Resolves with the command once one matched and its client was cut off. */
  readonly held: Promise<WireCommand>;
  /** Sends the held command to the server and resolves once the server answered (the answer is dropped). */
  release(): Promise<void>;
}

export interface TcpProxy {
  readonly port: number;
  /** Client → server commands seen so far (MongoDB wire protocol only). */
  readonly commands: readonly WireCommand[];
  /** Cuts every connection and refuses new ones until `restore()`. */
  partition(): void;
  restore(): void;
  /** Holds the next command that `match` accepts (see the module comment). */
  holdNext(match: (command: WireCommand) => boolean): HeldCommand;
  close(): Promise<void>;
}

const OP_MSG = 2013;

/** Reads the command of an OP_MSG whose first section is its body (kind 0), or undefined. */
function readCommand(message: Buffer): WireCommand | undefined {
  if (message.length < 26 || message.readInt32LE(12) !== OP_MSG || message[20] !== 0) return undefined;
  // body: int32 size, then elements: type byte, name (cstring), value
  const type = message[25];
  const nameEnd = message.indexOf(0, 26);
  if (nameEnd < 0) return undefined;
  const name = message.toString('utf8', 26, nameEnd);
  let collection: string | undefined;
  if (type === 0x02 && nameEnd + 5 <= message.length) {
    const length = message.readInt32LE(nameEnd + 1);
    collection = message.toString('utf8', nameEnd + 5, nameEnd + 4 + length);
  }
  return { name, collection };
}

interface Hold {
  match: (command: WireCommand) => boolean;
  resolve: (command: WireCommand) => void;
  message?: Buffer;
  upstream?: net.Socket;
  answered?: Promise<void>;
}

/** Pipes one accepted client to the target; for MongoDB, records its commands and holds the one a hold matches. */
function pipeConnection(
  client: net.Socket,
  target: { host?: string; port: number },
  mongo: boolean,
  state: { sockets: Set<net.Socket>; commands: WireCommand[]; holds: Hold[] },
): void {
  const { sockets, commands, holds } = state;
  const upstream = net.connect(target.port, target.host ?? '127.0.0.1');
  sockets.add(client).add(upstream);
  let holding: Hold | undefined;
  let pending = Buffer.alloc(0);
  const forward = (chunk: Buffer): void => {
    if (!mongo) {
      upstream.write(chunk);
      return;
    }
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
      const message = pending.subarray(0, pending.readInt32LE(0));
      pending = pending.subarray(message.length);
      const command = readCommand(message);
      if (command !== undefined) commands.push(command);
      const hold = command === undefined ? undefined : holds.find((h) => h.message === undefined && h.match(command));
      if (hold === undefined || command === undefined) {
        upstream.write(message);
        continue;
      }
      // Keep the server side open for release(); the client loses its connection (and its answer).
      hold.message = Buffer.from(message);
      hold.upstream = upstream;
      holding = hold;
      sockets.delete(upstream);
      client.destroy();
      hold.resolve(command);
      return;
    }
  };
  client.on('data', forward);
  upstream.on('data', (chunk: Buffer) => {
    if (holding === undefined) client.write(chunk);
  });
  const close = (): void => {
    client.destroy();
    if (holding === undefined) upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
}

/** Registers a hold for the next command `match` accepts, and the release that sends it on. */
function holdCommand(holds: Hold[], match: (command: WireCommand) => boolean): HeldCommand {
  let resolve: (command: WireCommand) => void = () => undefined;
  const held = new Promise<WireCommand>((r) => (resolve = r));
  const hold: Hold = { match, resolve };
  holds.push(hold);
  return {
    held,
    release: async () => {
      await held;
      const upstream = hold.upstream;
      const message = hold.message;
      if (upstream === undefined || message === undefined) throw new Error('nothing is held');
      hold.answered ??= new Promise<void>((done, fail) => {
        upstream.once('data', () => done());
        upstream.once('error', fail);
        upstream.write(message);
      });
      await hold.answered;
      upstream.destroy();
    },
  };
}

export async function startTcpProxy(
  target: { host?: string; port: number },
  opts: { mongo?: boolean } = {},
): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const commands: WireCommand[] = [];
  const holds: Hold[] = [];
  let partitioned = false;

  const server = net.createServer((client) => {
    if (partitioned) {
      client.destroy();
      return;
    }
    pipeConnection(client, target, opts.mongo === true, { sockets, commands, holds });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');

  return {
    port: address.port,
    commands,
    partition() {
      partitioned = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      partitioned = false;
    },
    holdNext(match) {
      return holdCommand(holds, match);
    },
    async close() {
      for (const hold of holds) hold.upstream?.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
