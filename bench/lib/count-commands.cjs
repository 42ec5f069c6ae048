// Bench-only (BENCH_COUNT_COMMANDS=1, see bench/lib/target.ts): preloaded into each service process
// with `node --require`, it counts the database commands the process sends, by command name, and
// the statements in them (an insert of 5 documents is 1 command, 5 statements), and keeps the
// counts in BENCH_COMMANDS_DIR/<pid>.json, rewritten every 100 ms while they change. The bench
// reads them around a round (bench/lib/commands.ts). The driver's command monitoring would need
// `monitorCommands` on every connection the services open; wrapping the one method every command
// goes through needs no change to them. Plain CommonJS: node loads it before the service.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.BENCH_COMMANDS_DIR;
if (dir) {
  const connectionModule = require(require.resolve('mongodb/lib/cmap/connection', { paths: [process.cwd()] }));
  const proto = connectionModule.Connection.prototype;
  const original = proto.sendCommand;
  const commands = {};
  const statements = {};
  let dirty = true;
  proto.sendCommand = function sendCommand(ns, command, ...rest) {
    const name = Object.keys(command)[0] ?? '?';
    commands[name] = (commands[name] ?? 0) + 1;
    const list = command.documents ?? command.updates ?? command.deletes;
    statements[name] = (statements[name] ?? 0) + (Array.isArray(list) ? list.length : 1);
    dirty = true;
    return original.call(this, ns, command, ...rest);
  };
  const file = path.join(dir, `${process.pid}.json`);
  const write = () => {
    if (!dirty) return;
    dirty = false;
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ commands, statements }));
    fs.renameSync(`${file}.tmp`, file);
  };
  setInterval(write, 1000).unref();
  process.on('exit', write);
}
