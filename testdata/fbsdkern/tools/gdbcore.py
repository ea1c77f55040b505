#!/usr/bin/env python3
"""Cross-check helper: build an ELF core that gdb can open from a fixture's
full dump, with one NT_PRSTATUS per thread holding the registers a FreeBSD
debugger starts from (dumppcb for the crashed thread, stoppcbs[cpu] for a
thread on another CPU, td_pcb otherwise; %rip = pcb_rip, %rsp = pcb_rsp + 8).
Memory: the kernel image, the kernel stacks and the direct-mapped
allocator pages, at their virtual addresses.

usage: gdbcore.py kernel.debug vmcore.mini vmcore.full out.core
"""
import struct
import sys

sys.argv, args = sys.argv[:1], sys.argv[1:]
exec(open(__file__.replace('gdbcore.py', 'check_dump.py')).read().split(
    "\nif __name__ == '__main__':")[0])

kpath, mpath, fpath, out = args
syms = elf_symbols(kpath)
m = Mini(mpath)
rd = m.read
kpml4 = struct.unpack('<Q', rd(syms['KPML4phys'][0], 8))[0]
f = Full(fpath, kpml4)


def q(va):
    return struct.unpack('<Q', rd(va, 8))[0]


def i32(va):
    return struct.unpack('<i', rd(va, 4))[0]


off = {n: i32(syms[n][0]) for n in (
    'proc_off_p_pid', 'proc_off_p_list', 'proc_off_p_threads',
    'thread_off_td_tid', 'thread_off_td_oncpu', 'thread_off_td_pcb',
    'thread_off_td_plist')}
dumptid = i32(syms['dumptid'][0])
threads = []
for lname in ('allproc', 'zombproc'):
    p = q(syms[lname][0])
    while p:
        td = q(p + off['proc_off_p_threads'])
        while td:
            tid = i32(td + off['thread_off_td_tid'])
            oncpu = rd(td + off['thread_off_td_oncpu'], 1)[0]
            pcb = q(td + off['thread_off_td_pcb'])
            if tid == dumptid:
                pcb = syms['dumppcb'][0]
            elif oncpu != 0xff:
                pcb = stoppcbs_base(syms, q) + oncpu * 320
            threads.append((tid, struct.unpack('<8Q', rd(pcb, 64))))
            td = q(td + off['thread_off_td_plist'])
        p = q(p + off['proc_off_p_list'])
threads.sort(key=lambda t: (t[0] != dumptid, t[0]))

# memory ranges (va, length)
ranges = [(0xffffffff80200000, (syms['_end'][0] - 0xffffffff80200000 + 4095) & ~4095),
          (0xfffff80000800000, 0x100000)]
va = 0xfffffe0000000000
while va < 0xfffffe0000000000 + 0x100000:
    if f.va_to_pa(va) is not None:
        if ranges and ranges[-1][0] + ranges[-1][1] == va:
            ranges[-1] = (ranges[-1][0], ranges[-1][1] + 4096)
        else:
            ranges.append((va, 4096))
    va += 4096

notes = b''
for tid, (r15, r14, r13, r12, rbp, rsp, rbx, rip) in threads:
    regs = [r15, r14, r13, r12, rbp, rbx, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            rip, 8, 0x2, rsp + 8, 0x10, 0, 0, 0, 0, 0, 0]
    desc = struct.pack('<3ih2xQQ4i', 11, 0, 0, 11, 0, 0, tid, 0, 0, 0)
    desc += b'\0' * 64 + struct.pack('<27Q', *regs) + struct.pack('<i4x', 0)
    assert len(desc) == 336
    notes += struct.pack('<III', 5, len(desc), 1) + b'CORE\0\0\0\0' + desc

phnum = 1 + len(ranges)
hdr = 64 + 56 * phnum
data_off = (hdr + len(notes) + 4095) & ~4095
eh = b'\x7fELF\x02\x01\x01' + b'\0' * 9 + struct.pack(
    '<HHIQQQIHHHHHH', 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
ph = struct.pack('<IIQQQQQQ', 4, 0, hdr, 0, 0, len(notes), 0, 4)
body = b''
o = data_off
for va, ln in ranges:
    ph += struct.pack('<IIQQQQQQ', 1, 7, o, va, 0, ln, ln, 4096)
    body += f.read(va, ln)
    o += ln
with open(out, 'wb') as fo:
    fo.write(eh + ph + notes)
    fo.write(b'\0' * (data_off - hdr - len(notes)))
    fo.write(body)
print('%s: %d threads, %d ranges' % (out, len(threads), len(ranges)))
