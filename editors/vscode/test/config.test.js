'use strict';
// Unit tests of the extension's helpers (no VS Code needed).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const os = require('node:os');
const path = require('node:path');
const { parseHostPort, serverFor, kdapCommand } = require('../config');

test('parseHostPort', () => {
  const ok = [
    ['127.0.0.1:4711', { host: '127.0.0.1', port: 4711 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
    ['[::1]:65535', { host: '::1', port: 65535 }],
    ['4711', { host: '127.0.0.1', port: 4711 }],
    [4711, { host: '127.0.0.1', port: 4711 }],
  ];
  for (const [input, want] of ok) {
    assert.deepEqual(parseHostPort(input), want, `parseHostPort(${JSON.stringify(input)})`);
  }
  const bad = [
    ['', /expected "host:port"/],
    ['host', /expected "host:port"/],
    [':4711', /expected "host:port"/],
    ['::1:4711', /expected "host:port"/],
    ['host:http', /port "http" is not a number/],
    ['host:0', /port 0 is outside 1-65535/],
    ['host:65536', /port 65536 is outside 1-65535/],
    [true, /expected "host:port"/],
  ];
  for (const [input, want] of bad) {
    assert.throws(() => parseHostPort(input), want, `parseHostPort(${JSON.stringify(input)})`);
  }
});

test('serverFor', () => {
  assert.equal(serverFor({ core: '/var/crash/vmcore.0' }), undefined);
  assert.deepEqual(serverFor({ kdapServer: 'crashbox:4711' }), { host: 'crashbox', port: 4711 });
  assert.deepEqual(serverFor({ debugServer: 4711 }), { host: '127.0.0.1', port: 4711 });
  assert.deepEqual(serverFor({ kdapServer: 'a:1', debugServer: 2 }), { host: 'a', port: 1 });
});

test('kdapCommand', () => {
  assert.equal(kdapCommand(undefined), 'kdap');
  assert.equal(kdapCommand('  '), 'kdap');
  assert.equal(kdapCommand('/opt/kdap/bin/kdap'), '/opt/kdap/bin/kdap');
  assert.equal(kdapCommand('~/go/bin/kdap'), path.join(os.homedir(), 'go/bin/kdap'));
});
