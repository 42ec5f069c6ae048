// Bench-only (BENCH_CPU_PROFILE=1, see bench/lib/probes.ts): preloaded into each service process
// with `node --require`. SIGUSR2 starts V8's CPU profiler, the next SIGUSR2 stops it and writes
// BENCH_CPU_PROFILE_DIR/<service>-<pid>-<n>.cpuprofile (what `node --cpu-prof` writes, but for one
// round of the bench instead of the whole process life). Summarise with bench/profile-summary.ts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const inspector = require('node:inspector');

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))),
    );
  const service = path.basename(process.cwd());
  let running = false;
  let n = 0;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      void post('Profiler.enable')
        .then(() => post('Profiler.setSamplingInterval', { interval: 200 }))
        .then(() => post('Profiler.start'));
      return;
    }
    running = false;
    n += 1;
    const file = path.join(dir, `${service}-${process.pid}-${n}.cpuprofile`);
    void post('Profiler.stop').then(({ profile }) => fs.writeFileSync(file, JSON.stringify(profile)));
  });
}
