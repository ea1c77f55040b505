-- Checks lua/kdap.lua outside Neovim, with minimal stand-ins for `vim` and
-- nvim-dap. Run from editors/nvim: lua test/kdap_test.lua
package.path = './lua/?.lua;' .. package.path

local fake_dap = { adapters = {}, configurations = {}, ABORT = {} }
package.loaded['dap'] = fake_dap

local answers = {}
_G.vim = {
  fn = {
    getcwd = function() return '/src' end,
    input = function(prompt) return table.remove(answers, 1) end,
    fnamemodify = function(p) return p end,
  },
  tbl_deep_extend = function(_, a, b)
    local out = {}
    for k, v in pairs(a) do out[k] = v end
    for k, v in pairs(b) do out[k] = v end
    return out
  end,
}

local kdap = require('kdap')
local failures = 0
local function check(cond, what)
  if not cond then
    failures = failures + 1
    print('FAIL: ' .. what)
  end
end

-- parse_server
local cases = {
  { '127.0.0.1:4711', '127.0.0.1', 4711 },
  { 'crashbox:1', 'crashbox', 1 },
  { '[::1]:65535', '::1', 65535 },
}
for _, c in ipairs(cases) do
  local host, port = kdap.parse_server(c[1])
  check(host == c[2] and port == c[3], 'parse_server(' .. c[1] .. ') = ' .. tostring(host) .. ', ' .. tostring(port))
end
for _, bad in ipairs({ '', 'host', ':4711', 'host:0', 'host:65536', 'host:http' }) do
  local ok, err = pcall(kdap.parse_server, bad)
  check(not ok and string.find(err, 'expected "host:port"', 1, true), 'parse_server(' .. bad .. ') should fail')
end

-- setup registers both adapters and the configuration
kdap.setup({ command = '/opt/kdap', filetypes = { 'c', 'cpp' } })
local exe = fake_dap.adapters.kdap
check(exe.type == 'executable' and exe.command == '/opt/kdap' and exe.args[1] == 'dap' and #exe.args == 1, 'executable adapter')

local got
fake_dap.adapters['kdap-server'](function(a) got = a end, {})
check(got.type == 'server' and got.port == '${port}' and got.executable.command == '/opt/kdap', 'server adapter spawning kdap')
check(table.concat(got.executable.args, ' ') == 'serve --listen 127.0.0.1:${port}', 'server adapter args: ' .. table.concat(got.executable.args, ' '))
fake_dap.adapters['kdap-server'](function(a) got = a end, { server = 'crashbox:4711' })
check(got.type == 'server' and got.host == 'crashbox' and got.port == 4711 and got.executable == nil, 'server adapter connecting to a running kdap')

for _, ft in ipairs({ 'c', 'cpp' }) do
  local cfg = fake_dap.configurations[ft] and fake_dap.configurations[ft][1]
  check(cfg and cfg.type == 'kdap' and cfg.request == 'attach' and cfg.name == 'Attach to vmcore', 'configuration for ' .. ft)
end
local cfg = fake_dap.configurations.c[1]
answers = { '/var/crash/vmcore.0', '' }
check(cfg.core() == '/var/crash/vmcore.0', 'core prompt returns the answer')
check(cfg.kernel() == fake_dap.ABORT, 'an empty answer aborts')

if failures > 0 then
  os.exit(1)
end
print('ok')
