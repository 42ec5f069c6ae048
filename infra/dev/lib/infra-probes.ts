import http from 'node:http';
import net from 'node:net';

/**
 * Readiness checks that talk each server's own protocol with Node built-ins only. "The port accepts a
 * TCP connection" is not enough: Redis answers -LOADING while it replays its AOF, and a server can
 * accept connections before it can serve them.
 */

const PROBE_TIMEOUT_MS = 2000;

/** GETs `url` and resolves with the status code; rejects on network errors or after a timeout. */
export function httpStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

export async function expectHttp200(url: string, headers: Record<string, string> = {}): Promise<void> {
  const status = await httpStatus(url, headers);
  if (status !== 200) throw new Error(`GET ${url} answered ${status}`);
}

/**
 * Opens a TCP connection, writes `request`, and resolves with what the server sent once `complete`
 * says the answer is whole.
 */
function exchange(host: string, port: number, request: Buffer, complete: (data: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const socket = net.connect({ host, port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (complete(data)) {
        socket.destroy();
        resolve(data);
      }
    });
    socket.on('timeout', () => socket.destroy(new Error(`no complete answer from ${host}:${port}`)));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`${host}:${port} closed the connection`)));
  });
}

/** Sends an inline PING and expects +PONG. */
export async function redisPing(host: string, port: number): Promise<void> {
  const answer = await exchange(host, port, Buffer.from('PING\r\n'), (data) => data.includes('\r\n'));
  const line = answer.toString('utf8').trim();
  if (line !== '+PONG') throw new Error(`PING answered ${line}`);
}

/**
 * Sends `{ ping: 1, $db: "admin" }` as an OP_MSG (the message every current MongoDB-compatible server
 * accepts) and expects a reply whose `ok` is 1.
 */
export async function mongoPing(host: string, port: number): Promise<void> {
  const answer = await exchange(host, port, opMsg({ ping: 1, $db: 'admin' }), (data) => {
    return data.length >= 4 && data.length >= data.readInt32LE(0);
  });
  const opCode = answer.readInt32LE(12);
  if (opCode !== OP_MSG) throw new Error(`ping answered with opCode ${opCode}`);
  // Header (16) + flagBits (4) + section kind (1), then the body document.
  const ok = readTopLevelNumber(answer.subarray(21), 'ok');
  if (ok !== 1) throw new Error(`ping answered ok: ${String(ok)}`);
}

const OP_MSG = 2013;

function opMsg(command: Record<string, number | string>): Buffer {
  const body = bsonDocument(command);
  const header = Buffer.alloc(16 + 4 + 1);
  header.writeInt32LE(header.length + body.length, 0);
  header.writeInt32LE(1, 4); // requestID
  header.writeInt32LE(0, 8); // responseTo
  header.writeInt32LE(OP_MSG, 12);
  header.writeUInt32LE(0, 16); // flagBits
  header.writeUInt8(0, 20); // section kind 0: the body
  return Buffer.concat([header, body]);
}

/** Encodes a flat document of int32 and string fields, all a ping needs. */
function bsonDocument(fields: Record<string, number | string>): Buffer {
  const elements: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    const key = Buffer.from(`${name}\0`, 'utf8');
    if (typeof value === 'number') {
      const v = Buffer.alloc(4);
      v.writeInt32LE(value, 0);
      elements.push(Buffer.from([0x10]), key, v);
    } else {
      const s = Buffer.from(`${value}\0`, 'utf8');
      const len = Buffer.alloc(4);
      len.writeInt32LE(s.length, 0);
      elements.push(Buffer.from([0x02]), key, len, s);
    }
  }
  const content = Buffer.concat(elements);
  const size = Buffer.alloc(4);
  size.writeInt32LE(4 + content.length + 1, 0);
  return Buffer.concat([size, content, Buffer.from([0])]);
}

/**
 * Walks the top level of a BSON document and returns the numeric value of `field` (double, int32,
 * int64 or boolean), or undefined when it is absent or sits behind a type this reader cannot skip.
 */
function readTopLevelNumber(doc: Buffer, field: string): number | undefined {
  const end = Math.min(doc.length, doc.readInt32LE(0));
  let i = 4;
  while (i < end - 1) {
    const type = doc.readUInt8(i);
    const nameEnd = doc.indexOf(0, i + 1);
    if (nameEnd < 0) return undefined;
    const name = doc.toString('utf8', i + 1, nameEnd);
    const v = nameEnd + 1;
    if (name === field) {
      if (type === 0x01) return doc.readDoubleLE(v);
      if (type === 0x10) return doc.readInt32LE(v);
      if (type === 0x12) return Number(doc.readBigInt64LE(v));
      if (type === 0x08) return doc.readUInt8(v);
      return undefined;
    }
    const size = bsonValueSize(doc, type, v);
    if (size === undefined) return undefined;
    i = v + size;
  }
  return undefined;
}

function bsonValueSize(doc: Buffer, type: number, at: number): number | undefined {
  switch (type) {
    case 0x01: // double
    case 0x09: // UTC datetime
    case 0x11: // timestamp
    case 0x12: // int64
      return 8;
    case 0x02: // string
      return 4 + doc.readInt32LE(at);
    case 0x03: // document
    case 0x04: // array
      return doc.readInt32LE(at);
    case 0x05: // binary: length, subtype, bytes
      return 4 + 1 + doc.readInt32LE(at);
    case 0x07: // ObjectId
      return 12;
    case 0x08: // boolean
      return 1;
    case 0x0a: // null
      return 0;
    case 0x10: // int32
      return 4;
    case 0x13: // decimal128
      return 16;
    default:
      return undefined;
  }
}

/** A NATS server greets every new connection with an INFO line before anything is sent. */
export async function natsInfo(host: string, port: number): Promise<void> {
  const answer = await exchange(host, port, Buffer.alloc(0), (data) => data.includes('\r\n'));
  const line = answer.toString('utf8');
  if (!line.startsWith('INFO ')) throw new Error(`NATS greeted with ${line.slice(0, 80)}`);
}
