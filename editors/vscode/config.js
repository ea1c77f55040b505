'use strict';
// Pure helpers of the extension, kept free of the vscode module so that
// node's test runner can check them.

const os = require('os');
const path = require('path');

/**
 * Parses "host:port" (or "[v6addr]:port", or a bare port number) into
 * { host, port }; throws an Error naming the bad value otherwise.
 */
function parseHostPort(value, defaultHost = '127.0.0.1') {
  if (typeof value === 'number') {
    return { host: defaultHost, port: checkPort(value, value) };
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(`kdapServer ${JSON.stringify(value)}: expected "host:port"`);
  }
  const s = value.trim();
  let host;
  let port;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (v6) {
    host = v6[1];
    port = v6[2];
  } else if (/^\d+$/.test(s)) {
    host = defaultHost;
    port = s;
  } else {
    const i = s.lastIndexOf(':');
    if (i <= 0 || s.indexOf(':') !== i) {
      throw new Error(`kdapServer ${JSON.stringify(value)}: expected "host:port"`);
    }
    host = s.slice(0, i);
    port = s.slice(i + 1);
  }
  if (!/^\d+$/.test(port)) {
    throw new Error(`kdapServer ${JSON.stringify(value)}: port ${JSON.stringify(port)} is not a number`);
  }
  return { host, port: checkPort(Number(port), value) };
}

function checkPort(port, value) {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`kdapServer ${JSON.stringify(value)}: port ${port} is outside 1-65535`);
  }
  return port;
}

/**
 * Returns where to reach a kdap server for a debug configuration, or
 * undefined when the adapter should be started as a child process.
 */
function serverFor(config) {
  if (config.kdapServer !== undefined && config.kdapServer !== '') {
    return parseHostPort(config.kdapServer);
  }
  if (config.debugServer !== undefined && config.debugServer !== '') {
    return parseHostPort(config.debugServer);
  }
  return undefined;
}

/** Returns the kdap command: the kdap.path setting (with ~ expanded) or "kdap". */
function kdapCommand(setting) {
  const p = typeof setting === 'string' ? setting.trim() : '';
  if (p === '') {
    return 'kdap';
  }
  if (p === '~' || p.startsWith('~/')) {
    return path.join(os.homedir(), p.slice(1));
  }
  return p;
}

module.exports = { parseHostPort, serverFor, kdapCommand };
