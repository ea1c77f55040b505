package schema

// required lists, per message kind, the fields the Debug Adapter Protocol's
// JSON schema marks required, as "path:type" (type omitted where the schema
// allows several). It was derived from debugAdapterProtocol.json of the DAP
// specification (github.com/microsoft/debug-adapter-protocol; the same file
// ships with github.com/google/go-dap v0.12.0 as cmd/gentypes/debugProtocol.json)
// by listing each definition's "required" array and following $ref, allOf and
// array items, stopping at recursive references.
//
// Keys are "response", "event" (the common fields), "response:<command>",
// "event:<event>" and "response:!error" (any response with success false).
// A path applies only where all its parents are present: a parent's own
// requiredness is a separate entry. "x[]" applies the rest to every element.
var required = map[string][]string{
	"event:breakpoint":                   {"body:object", "body.reason:string", "body.breakpoint:object", "body.breakpoint.verified:boolean", "body.breakpoint.source.checksums[].algorithm:string", "body.breakpoint.source.checksums[].checksum:string"},
	"response:breakpointLocations":       {"body:object", "body.breakpoints:array", "body.breakpoints[].line:integer"},
	"event:capabilities":                 {"body:object", "body.capabilities:object", "body.capabilities.exceptionBreakpointFilters[].filter:string", "body.capabilities.exceptionBreakpointFilters[].label:string", "body.capabilities.additionalModuleColumns[].attributeName:string", "body.capabilities.additionalModuleColumns[].label:string"},
	"response:completions":               {"body:object", "body.targets:array", "body.targets[].label:string"},
	"response:continue":                  {"body:object"},
	"event:continued":                    {"body:object", "body.threadId:integer"},
	"response:dataBreakpointInfo":        {"body:object", "body.dataId", "body.description:string"},
	"response:disassemble":               {"body.instructions:array", "body.instructions[].address:string", "body.instructions[].instruction:string", "body.instructions[].location.checksums[].algorithm:string", "body.instructions[].location.checksums[].checksum:string"},
	"response:!error":                    {"body:object", "body.error.id:integer", "body.error.format:string"},
	"response:evaluate":                  {"body:object", "body.result:string", "body.variablesReference:integer"},
	"response:exceptionInfo":             {"body:object", "body.exceptionId:string", "body.breakMode:string"},
	"event:exited":                       {"body:object", "body.exitCode:integer"},
	"response:gotoTargets":               {"body:object", "body.targets:array", "body.targets[].id:integer", "body.targets[].label:string", "body.targets[].line:integer"},
	"response:initialize":                {"body.exceptionBreakpointFilters[].filter:string", "body.exceptionBreakpointFilters[].label:string", "body.additionalModuleColumns[].attributeName:string", "body.additionalModuleColumns[].label:string"},
	"event:invalidated":                  {"body:object"},
	"event:loadedSource":                 {"body:object", "body.reason:string", "body.source:object", "body.source.checksums[].algorithm:string", "body.source.checksums[].checksum:string"},
	"response:loadedSources":             {"body:object", "body.sources:array", "body.sources[].checksums[].algorithm:string", "body.sources[].checksums[].checksum:string"},
	"event:memory":                       {"body:object", "body.memoryReference:string", "body.offset:integer", "body.count:integer"},
	"event:module":                       {"body:object", "body.reason:string", "body.module:object", "body.module.id", "body.module.name:string"},
	"response:modules":                   {"body:object", "body.modules:array", "body.modules[].id", "body.modules[].name:string"},
	"event:output":                       {"body:object", "body.output:string", "body.source.checksums[].algorithm:string", "body.source.checksums[].checksum:string"},
	"event:process":                      {"body:object", "body.name:string"},
	"event:progressEnd":                  {"body:object", "body.progressId:string"},
	"event:progressStart":                {"body:object", "body.progressId:string", "body.title:string"},
	"event:progressUpdate":               {"body:object", "body.progressId:string"},
	"response:readMemory":                {"body.address:string"},
	"response:runInTerminal":             {"body:object"},
	"response:scopes":                    {"body:object", "body.scopes:array", "body.scopes[].name:string", "body.scopes[].variablesReference:integer", "body.scopes[].expensive:boolean", "body.scopes[].source.checksums[].algorithm:string", "body.scopes[].source.checksums[].checksum:string"},
	"response:setBreakpoints":            {"body:object", "body.breakpoints:array", "body.breakpoints[].verified:boolean", "body.breakpoints[].source.checksums[].algorithm:string", "body.breakpoints[].source.checksums[].checksum:string"},
	"response:setDataBreakpoints":        {"body:object", "body.breakpoints:array", "body.breakpoints[].verified:boolean", "body.breakpoints[].source.checksums[].algorithm:string", "body.breakpoints[].source.checksums[].checksum:string"},
	"response:setExceptionBreakpoints":   {"body.breakpoints[].verified:boolean", "body.breakpoints[].source.checksums[].algorithm:string", "body.breakpoints[].source.checksums[].checksum:string"},
	"response:setExpression":             {"body:object", "body.value:string"},
	"response:setFunctionBreakpoints":    {"body:object", "body.breakpoints:array", "body.breakpoints[].verified:boolean", "body.breakpoints[].source.checksums[].algorithm:string", "body.breakpoints[].source.checksums[].checksum:string"},
	"response:setInstructionBreakpoints": {"body:object", "body.breakpoints:array", "body.breakpoints[].verified:boolean", "body.breakpoints[].source.checksums[].algorithm:string", "body.breakpoints[].source.checksums[].checksum:string"},
	"response:setVariable":               {"body:object", "body.value:string"},
	"response:source":                    {"body:object", "body.content:string"},
	"response:stackTrace":                {"body:object", "body.stackFrames:array", "body.stackFrames[].id:integer", "body.stackFrames[].name:string", "body.stackFrames[].line:integer", "body.stackFrames[].column:integer", "body.stackFrames[].source.checksums[].algorithm:string", "body.stackFrames[].source.checksums[].checksum:string"},
	"response:stepInTargets":             {"body:object", "body.targets:array", "body.targets[].id:integer", "body.targets[].label:string"},
	"event:stopped":                      {"body:object", "body.reason:string"},
	"event:thread":                       {"body:object", "body.reason:string", "body.threadId:integer"},
	"response:threads":                   {"body:object", "body.threads:array", "body.threads[].id:integer", "body.threads[].name:string"},
	"response:variables":                 {"body:object", "body.variables:array", "body.variables[].name:string", "body.variables[].value:string", "body.variables[].variablesReference:integer"},
	"response":                           {"seq:integer", "type:string", "request_seq:integer", "success:boolean", "command:string"},
	"request":                            {"seq:integer", "type:string", "command:string"},
	"event":                              {"seq:integer", "type:string", "event:string"},
}
