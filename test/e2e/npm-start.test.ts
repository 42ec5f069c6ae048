import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { freePort, repoRoot, npmCommand } from '@ticketing/devinfra';
import { eventually } from '@ticketing/common/testing';
import { STACK_START_TIMEOUT_MS } from './harness';

/**
 * `npm start` as a supervisor runs it: a real npm process, stopped with `kill -TERM <npm pid>`. Every
 * process it started (the stack, the servers, the five services) must be gone afterwards; before the
 * fix the stack outlived npm, because the shell npm runs the script in died of the signal without
 * passing it on. While it starts, the gateway answers "starting", never "unavailable".
 */

interface Proc {
  pid: number;
  ppid: number;
  /** Clock ticks after boot: tells a reused pid from the process we saw. */
  startTime: string;
  state: string;
  command: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ..." where comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, ppid: Number(fields[1]), startTime: fields[19] ?? '', state: fields[0] ?? '', command };
  } catch {
    return undefined;
  }
}

function descendants(root: number): Proc[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readProc(Number(name)) ?? []);
  const found: Proc[] = [];
  const visit = (pid: number): void => {
    for (const child of all.filter((p) => p.ppid === pid)) {
      found.push(child);
      visit(child.pid);
    }
  };
  visit(root);
  return found;
}

/** Still running: same pid, same start time, not a zombie waiting to be reaped. */
function stillRunning(proc: Proc): boolean {
  const now = readProc(proc.pid);
  return now !== undefined && now.startTime === proc.startTime && now.state !== 'Z';
}

const describeOnLinux = process.platform === 'linux' ? describe : describe.skip;

let npm: ChildProcess | undefined;
let seen: Proc[] = [];

afterEach(() => {
  // A failed run must not leave a stack behind for the rest of the suite.
  for (const proc of seen.filter(stillRunning)) process.kill(proc.pid, 'SIGKILL');
  npm?.kill('SIGKILL');
});

const START_TIMEOUT_MS = STACK_START_TIMEOUT_MS + 120_000;

describeOnLinux('npm start', () => {
  it(
    'says "starting" while it starts, and leaves no process behind when npm is sent SIGTERM',
    async () => {
      const port = await freePort();
      const [command, args] = npmCommand(['start', '--', '--ephemeral', '--port', String(port)]);
      const started = spawn(command, args, { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
      npm = started;
      let output = '';
      for (const stream of [started.stdout, started.stderr])
        stream.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));

      // Until the ready line, ask the gateway what it says about a service.
      const codes = new Set<string>();
      await eventually(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/api/tickets`).catch(() => undefined);
          if (res !== undefined && !/ready in/.test(output)) {
            const body = (await res.json()) as { errors?: Array<{ code?: string }> };
            codes.add(res.status >= 500 ? (body.errors?.[0]?.code ?? String(res.status)) : String(res.status));
          }
          expect(output).toMatch(/ready in/);
        },
        // The web client's first build (next build) comes on top of the services'.
        { timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
      );
      expect(codes).toContain('UPSTREAM_STARTING');
      expect(codes).not.toContain('UPSTREAM_UNAVAILABLE');

      seen = descendants(started.pid ?? -1);
      const services = seen.filter((p) => /\/dist\/main\.js/.test(p.command));
      expect(services).toHaveLength(5);
      // The web client is served at / by the same gateway, and is one of the processes stopped below.
      const home = await fetch(`http://127.0.0.1:${port}/`);
      expect(home.status).toBe(200);
      expect(home.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await home.text()).toContain('Tickets for sale');
      // (next start renames its process "next-server (vX)".)
      expect(seen.filter((p) => /next-server|next\/dist\/bin\/next start/.test(p.command)).length).toBeGreaterThan(0);

      process.kill(started.pid ?? -1, 'SIGTERM');
      await eventually(() => expect(seen.filter(stillRunning).map((p) => `${p.pid} ${p.command}`)).toEqual([]), {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
    },
    START_TIMEOUT_MS + 90_000,
  );
});
