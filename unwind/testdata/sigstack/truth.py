# gdb script: stop at snapshot_pc and print one JSON object per frame, as
# gdb's own unwinder sees the stack. Used by build.sh to record the
# independent ground truth the unwinder's tests compare against.
import json
import gdb

gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("handle SIGSEGV nostop noprint pass")
gdb.execute("break *snapshot_pc")
gdb.execute("run " + gdb.parameter("args"))

KINDS = {gdb.NORMAL_FRAME: "normal", gdb.INLINE_FRAME: "inlined",
         gdb.SIGTRAMP_FRAME: "sigtramp"}
REGS = ["rbx", "rbp", "r12", "r13", "r14", "r15", "rsp", "rip"]

out = []
f = gdb.newest_frame()
while f is not None and f.is_valid():
    sal = f.find_sal()
    regs = {}
    for r in REGS:
        try:
            v = f.read_register(r)
            if v.is_optimized_out:
                continue
            regs[r] = int(v) & 0xFFFFFFFFFFFFFFFF
        except gdb.error:
            pass
    out.append({
        "function": f.name() or "",
        "kind": KINDS.get(f.type(), str(f.type())),
        "pc": f.pc(),
        "file": sal.symtab.filename if sal.symtab else "",
        "line": sal.line,
        "regs": regs,
    })
    f = f.older()
with open(gdb.parameter("args").split()[0] + ".gdb.json", "w") as fh:
    json.dump(out, fh, indent=1)
    fh.write("\n")
gdb.execute("continue")  # let the program write its snapshot and exit
gdb.execute("quit")
