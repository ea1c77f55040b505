'use strict';
// End-to-end test: runs `$KDAP_BIN dap` under Microsoft's DebugClient and
// attaches to the dump named by KDAP_CORE (with the kernel KDAP_KERNEL).
// Skipped when KDAP_BIN or KDAP_CORE is not set.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { DebugClient } = require('@vscode/debugadapter-testsupport');

const bin = process.env.KDAP_BIN;
const core = process.env.KDAP_CORE;
const kernel = process.env.KDAP_KERNEL;

const skip = !bin ? 'KDAP_BIN is not set' : !core ? 'KDAP_CORE is not set' : false;

test('attach to a vmcore', { skip, timeout: 120000 }, async () => {
  // DebugClient spawns `runtime executable`: here `$KDAP_BIN dap`.
  const dc = new DebugClient(bin, 'dap', 'kdap', {}, true);
  await dc.start();
  try {
    const init = await dc.initializeRequest({ adapterID: 'kdap', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    assert.equal(init.success, true);
    const args = { core };
    if (kernel) {
      args.kernel = kernel;
    }
    const attach = await dc.attachRequest(args);
    assert.equal(attach.success, true, `attach failed: ${attach.message}`);
    // Threads, frames and the stop reason are asserted once the session
    // layer answers them.
  } finally {
    await dc.stop();
  }
});
