-- nvim-dap integration for kdap, the kernel crash dump debug adapter.
--
--   require('kdap').setup()                       -- adapters + C configuration
--   require('kdap').setup({ command = '/opt/bin/kdap', filetypes = { 'c', 'cpp' } })
--
-- Adapters registered:
--   kdap         nvim-dap starts `kdap dap` and talks over stdio.
--   kdap-server  nvim-dap starts `kdap serve --listen 127.0.0.1:<free port>`
--                and connects over TCP; with `server = 'host:port'` in the
--                configuration it connects to a kdap server already running.
local M = {}

M.defaults = {
  command = 'kdap', -- the kdap binary
  host = '127.0.0.1', -- where kdap-server listens when nvim-dap starts it
  filetypes = { 'c' }, -- filetypes that get the "Attach to vmcore" configuration
}

-- Splits "host:port" into host and port number; errors name the bad value.
function M.parse_server(value)
  local host, port = string.match(value or '', '^%[?([^%]]-)%]?:(%d+)$')
  port = tonumber(port)
  if not host or host == '' or not port or port < 1 or port > 65535 then
    error(string.format('kdap: server %q: expected "host:port"', tostring(value)))
  end
  return host, port
end

-- Asks for a path, completing file names; an empty answer aborts the session.
local function ask(prompt, default)
  return function()
    local path = vim.fn.input(prompt, default or (vim.fn.getcwd() .. '/'), 'file')
    if path == nil or path == '' then
      return require('dap').ABORT
    end
    return vim.fn.fnamemodify(path, ':p')
  end
end

-- The "Attach to vmcore" configuration: prompts for the dump and the kernel.
function M.configuration(type)
  return {
    type = type or 'kdap',
    request = 'attach',
    name = 'Attach to vmcore',
    core = ask('Crash dump (vmcore): '),
    kernel = ask('Debug kernel (kernel.debug, vmlinux): '),
    sourceMap = { ['/usr/src'] = '${workspaceFolder}' },
    showMessageBuffer = true,
  }
end

function M.setup(opts)
  opts = vim.tbl_deep_extend('force', M.defaults, opts or {})
  local dap = require('dap')

  dap.adapters.kdap = {
    type = 'executable',
    command = opts.command,
    args = { 'dap' },
  }

  dap.adapters['kdap-server'] = function(callback, config)
    if config.server then
      local host, port = M.parse_server(config.server)
      callback({ type = 'server', host = host, port = port })
      return
    end
    callback({
      type = 'server',
      host = opts.host,
      port = '${port}', -- nvim-dap picks a free port and substitutes it below
      executable = {
        command = opts.command,
        args = { 'serve', '--listen', opts.host .. ':${port}' },
      },
    })
  end

  for _, ft in ipairs(opts.filetypes) do
    dap.configurations[ft] = dap.configurations[ft] or {}
    table.insert(dap.configurations[ft], M.configuration('kdap'))
  end
end

return M
