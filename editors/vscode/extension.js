'use strict';
// Registers the "kdap" debug type: VS Code starts `kdap dap` and speaks the
// Debug Adapter Protocol to it over stdio, or connects to a running
// `kdap serve` when the configuration names one.

const vscode = require('vscode');
const { serverFor, kdapCommand } = require('./config');

/** Starts the adapter for each debug session. */
class KdapDescriptorFactory {
  createDebugAdapterDescriptor(session) {
    const server = serverFor(session.configuration);
    if (server) {
      return new vscode.DebugAdapterServer(server.port, server.host);
    }
    const setting = vscode.workspace.getConfiguration('kdap').get('path');
    return new vscode.DebugAdapterExecutable(kdapCommand(setting), ['dap']);
  }
}

/** Fills in a configuration when there is no launch.json and checks "core". */
class KdapConfigurationProvider {
  resolveDebugConfiguration(folder, config) {
    if (!config.type && !config.request && !config.name) {
      config.type = 'kdap';
      config.request = 'attach';
      config.name = 'Attach to vmcore';
      config.core = '${command:kdap.pickCore}';
    }
    return config;
  }

  resolveDebugConfigurationWithSubstitutedVariables(folder, config) {
    if (!config.core) {
      return vscode.window
        .showErrorMessage('kdap: the debug configuration needs "core", the path of the crash dump.')
        .then(() => undefined);
    }
    try {
      serverFor(config);
    } catch (err) {
      return vscode.window.showErrorMessage(`kdap: ${err.message}`).then(() => undefined);
    }
    return config;
  }
}

/** Asks for a file; resolves to its path, or undefined (cancelling the session). */
async function pickFile(title) {
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectFiles: true,
    canSelectFolders: false,
    canSelectMany: false,
    defaultUri: vscode.workspace.workspaceFolders ? vscode.workspace.workspaceFolders[0].uri : undefined,
  });
  return picked && picked.length > 0 ? picked[0].fsPath : undefined;
}

function activate(context) {
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory('kdap', new KdapDescriptorFactory()),
    vscode.debug.registerDebugConfigurationProvider('kdap', new KdapConfigurationProvider()),
    vscode.commands.registerCommand('kdap.pickCore', () => pickFile('Kernel crash dump (vmcore)')),
    vscode.commands.registerCommand('kdap.pickKernel', () => pickFile('Kernel with debug information')),
  );
}

function deactivate() {}

module.exports = { activate, deactivate };
