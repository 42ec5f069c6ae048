/**
 * Summarises V8 CPU profiles (.cpuprofile, as written by `node --cpu-prof` or by the bench with
 * BENCH_CPU_PROFILE=1): self time by function and by package, the share of each in the busy time.
 *
 *   npx tsx bench/profile-summary.ts FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** node_modules/<package> (scoped too), node:internal, our workspaces' sources, or V8's own entries. */
function packageOf(url: string, name: string): string {
  if (url === '') return `(${name || 'native'})`;
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules !== null) return inModules[1] ?? url;
  if (url.startsWith('node:')) return 'node internals';
  const workspace = /\/(common|orders|tickets|payments|expiration|auth)\/(?:dist|src)\//.exec(url);
  return workspace === null ? url : `ours: ${workspace[1]}`;
}

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: profile-summary.ts FILE.cpuprofile [TOP]');
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // The bench's probes (bench/lib/*.cjs: the profiler's own stop, the command counts' writes) are
  // not the service's work: left out, and their total said.
  const probe = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      if (/bench\/lib\/[\w-]+\.cjs$/.test(byId.get(at)?.callFrame.url ?? '')) return true;
    }
    return false;
  };
  let probesUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    if (probe(id)) probesUs += us;
    else selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  let idle = 0;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const short = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(\w+\/(dist|src)\/)/, '$1');
    const key = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const busy = total - idle;
  // Inclusive time of our own functions: each sample counts once for every one of them on its stack.
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    if (probe(id)) return;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node === undefined || !packageOf(node.callFrame.url, '').startsWith('ours')) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const short = url.replace(/^file:\/\/.*\/(\w+\/(dist|src)\/)/, '$1');
      seen.add(`${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`);
    }
    for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const show = (title: string, map: Map<string, number>, n: number): void => {
    print(`\n${title}`);
    for (const [key, us] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      print(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
    }
  };
  print(
    `${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(2)} s busy (shares below are of busy; ${(probesUs / 1000).toFixed(0)} ms of the bench's probes left out)`,
  );
  show('by package', byPackage, 20);
  show('by function (self time)', byFunction, top);
  show('our functions (inclusive time)', inclusive, top);
}

main();
