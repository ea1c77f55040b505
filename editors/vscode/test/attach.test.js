'use strict';
// End-to-end test: runs `$KDAP_BIN dap` under Microsoft's DebugClient and
// attaches to the dump named by KDAP_CORE (with the kernel KDAP_KERNEL).
// Skipped when KDAP_BIN or KDAP_CORE is not set.
//
// With KDAP_EXPECT=fbsdkern-fp-assert (the Makefile's test-editors target
// sets it for testdata/fbsdkern/fixtures/fp/assert/vmcore.mini) the values
// are checked against the ground truth in testdata/README.md.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { DebugClient } = require('@vscode/debugadapter-testsupport');

const bin = process.env.KDAP_BIN;
const core = process.env.KDAP_CORE;
const kernel = process.env.KDAP_KERNEL;
const fpAssert = process.env.KDAP_EXPECT === 'fbsdkern-fp-assert';

const skip = !bin ? 'KDAP_BIN is not set' : !core ? 'KDAP_CORE is not set' : false;

// Ground truth of the fp assert run (testdata/README.md).
const panicString = "Assertion td->td_name[0] != '\\0' failed at /usr/src/sys/kern/kern_kdap.c:100";
const crashedTop = [
  // frame 0 (doadump) is checked by name only: its pc is after the call.
  ['kern_reboot', 'kern_shutdown.c', 44],
  ['vpanic', 'kern_shutdown.c', 70],
  ['panic', 'kern_shutdown.c', 79],
  ['kdap_thread_name_ok [inlined]', 'kern_kdap.c', 100],
  ['kdap_check_thread', 'kern_kdap.c', 111],
  ['sysctl_kdap_handler', 'kern_kdap.c', 164],
];

test('attach to a vmcore', { skip, timeout: 120000 }, async () => {
  // DebugClient spawns `runtime executable`: here `$KDAP_BIN dap`.
  const dc = new DebugClient(bin, 'dap', 'kdap', {}, true);
  await dc.start();
  try {
    const init = await dc.initializeRequest({ adapterID: 'kdap', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    assert.equal(init.success, true);
    assert.equal(init.body.supportsConfigurationDoneRequest, true);
    const args = { core, sourceMap: { '/usr/src': '/src/freebsd' } };
    if (kernel) {
      args.kernel = kernel;
    }
    const initialized = dc.waitForEvent('initialized');
    const attach = await dc.attachRequest(args);
    assert.equal(attach.success, true, `attach failed: ${attach.message}`);
    await initialized;

    const stoppedP = dc.waitForEvent('stopped');
    const outputP = dc.waitForEvent('output');
    await dc.configurationDoneRequest();
    const [stopped, output] = await Promise.all([stoppedP, outputP]);
    assert.equal(stopped.body.reason, 'exception');
    assert.equal(stopped.body.allThreadsStopped, true);

    const threads = (await dc.threadsRequest()).body.threads;
    assert.ok(threads.length > 0);
    assert.equal(threads[0].id, stopped.body.threadId, 'the crashed thread comes first');

    const st = (await dc.stackTraceRequest({ threadId: stopped.body.threadId, startFrame: 0, levels: 20 })).body;
    assert.ok(st.stackFrames.length > 0);

    const hz = (await dc.evaluateRequest({ expression: 'hz', context: 'watch' })).body;
    assert.match(hz.result, /^\d+$/);

    if (!fpAssert) {
      return;
    }
    assert.equal(stopped.body.description, panicString);
    assert.equal(stopped.body.threadId, 100016);
    assert.ok(output.body.output.startsWith(`panic: ${panicString}\n`), output.body.output);
    assert.equal(threads.length, 17);
    assert.equal(threads[0].name, '(pid 806) sysctl (crashed)');

    assert.equal(st.totalFrames, 15);
    assert.equal(st.stackFrames[0].name, 'doadump');
    crashedTop.forEach(([name, file, line], i) => {
      const f = st.stackFrames[i + 1];
      assert.equal(f.name, name, `frame ${i + 1}`);
      assert.equal(f.source.name, file, `frame ${i + 1} file`);
      assert.ok(f.source.path.startsWith('/src/freebsd/sys/'), f.source.path);
      assert.equal(f.line, line, `frame ${i + 1} line`);
    });

    // A local of sysctl_kdap_handler: primes = {2, 3, 5, 7, 11, 13}.
    const handler = st.stackFrames[6];
    const scopes = (await dc.scopesRequest({ frameId: handler.id })).body.scopes;
    const locals = scopes.find((s) => s.name === 'Locals');
    const vars = (await dc.variablesRequest({ variablesReference: locals.variablesReference })).body.variables;
    const primes = vars.find((v) => v.name === 'primes');
    assert.ok(primes, 'primes among the locals');
    const elems = (await dc.variablesRequest({ variablesReference: primes.variablesReference, filter: 'indexed', start: 0, count: 6 })).body.variables;
    assert.deepEqual(elems.map((v) => v.value), ['2', '3', '5', '7', '11', '13']);

    assert.equal(hz.result, '1000');
    const key = (await dc.evaluateRequest({ expression: 'pair.kp_key', context: 'repl', frameId: handler.id })).body;
    assert.equal(key.result, '42');
  } finally {
    await dc.stop();
  }
});
