// coderunner's warm-pool preload for node (runner/src/pool/prestart.rs). A javascript slot starts
// node ahead of its run as `NODE_OPTIONS="--require <this file>" node <flags> main.js`, already
// confined (uid, cgroup, namespaces, rlimits, Landlock, seccomp). Node loads this file before the
// main module: it says "ready" on the slot's socket, blocks until coderunner says "go" (the run's
// files are written by then, its stdin is in fd 0), appends the run's arguments to process.argv,
// closes the socket and returns, and node goes on to run main.js exactly as a cold
// `node <flags> main.js` would (its own entry point, so the same stack frames and error output).
// It leaves nothing behind: no global, no open fd, no environment variable, no cache entry.
'use strict';
(() => {
  const Module = require('module');
  delete require.cache[__filename];
  for (const key of Object.keys(Module._pathCache)) {
    if (Module._pathCache[key] === __filename) delete Module._pathCache[key];
  }
  const control = process.env.CODERUNNER_NODE_CONTROL_FD;
  // Worker threads load --require modules too, and node programs the run starts see this file
  // again: only the slot's own node, whose environment names the socket, waits for "go".
  if (control === undefined) return;
  delete process.env.CODERUNNER_NODE_CONTROL_FD;
  delete process.env.NODE_OPTIONS;
  const fs = require('fs');
  const fd = Number(control);
  const retry = (f) => {
    for (;;) {
      try {
        return f();
      } catch (e) {
        if (e.code !== 'EINTR' && e.code !== 'EAGAIN') throw e;
      }
    }
  };
  retry(() => fs.writeSync(fd, '{"kind":"ready"}'));
  const buf = Buffer.allocUnsafe(1 << 20);
  const n = retry(() => fs.readSync(fd, buf, 0, buf.length, null));
  if (n === 0) process.exit(0); // the slot was dropped unused
  const go = JSON.parse(buf.toString('utf8', 0, n));
  fs.closeSync(fd);
  if (go.mode !== 'prestarted' || !Array.isArray(go.args)) {
    throw new Error('coderunner: a warm node slot got a malformed start message');
  }
  process.argv.push(...go.args);
})();
