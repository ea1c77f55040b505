#!/usr/bin/env python3
"""Independent consistency check of the fixture dumps (host-side, optional).

Reads a FreeBSD amd64 minidump the way libkvm does (header, msgbuf,
dump_avail, bitmap, pmap PDE pages, sparse pages) and a full ELF dump by
walking the kernel's 4-level page tables from KPML4phys, then prints the
process/thread table, each thread's saved %rip/%rsp and, for
frame-pointer kernels, a frame-pointer walk.  Symbols come from the ELF
symbol table of kernel.debug (parsed here, no external tools).

usage: check_dump.py kernel.debug vmcore.mini [vmcore.full] [vmcore.dumpdev]
"""
import struct
import sys

PAGE = 4096


def elf_symbols(path):
    d = open(path, 'rb').read()
    shoff, = struct.unpack_from('<Q', d, 0x28)
    shentsize, shnum = struct.unpack_from('<HH', d, 0x3a)
    secs = [struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize)
            for i in range(shnum)]
    syms = {}
    for s in secs:
        if s[1] != 2:  # SHT_SYMTAB
            continue
        strtab = secs[s[6]]
        for off in range(s[4], s[4] + s[5], 24):
            name, info, other, shndx, value, size = struct.unpack_from(
                '<IBBHQQ', d, off)
            so = strtab[4] + name
            n = d[so:d.index(b'\0', so)].decode()
            if n:
                syms[n] = (value, size, info & 0xf)
    return syms


def stoppcbs_base(syms, q):
    """Address of stoppcbs[0]: the array itself, or where the pointer of
    FreeBSD 14.0+ (an 8-byte symbol) points."""
    va, size, _ = syms['stoppcbs']
    return q(va) if size == 8 else va


def symbolize(syms, addr):
    best = None
    for n, (v, sz, t) in syms.items():
        if t == 2 and v <= addr < v + max(sz, 1):
            best = n
    return best or '?'


class Mini:
    def __init__(self, path):
        self.d = open(path, 'rb').read()
        h = self.d
        assert h[:22] == b'minidump FreeBSD/amd64', 'bad magic'
        (self.version, self.msgbufsize, self.bitmapsize, self.pmapsize,
         self.kernbase, self.dmapbase, self.dmapend,
         self.dumpavailsize) = struct.unpack_from('<IIIIQQQI', h, 24)
        if self.version < 3:
            self.dumpavailsize = 0
        rp = lambda x: (x + PAGE - 1) & ~(PAGE - 1)
        off = PAGE
        self.msgbuf_off = off
        off += rp(self.msgbufsize)
        if self.dumpavailsize:
            da = struct.unpack_from('<%dQ' % (self.dumpavailsize // 8), h, off)
            self.dump_avail = []
            for i in range(0, len(da) - 1, 2):
                if da[i + 1] == 0:
                    break
                self.dump_avail.append((da[i], da[i + 1]))
        else:
            self.dump_avail = [(0, self.bitmapsize * 8 * PAGE)]
        off += rp(self.dumpavailsize)
        self.bitmap = h[off:off + self.bitmapsize]
        off += rp(self.bitmapsize)
        self.pmap_off = off
        off += rp(self.pmapsize)
        self.sparse_off = off
        # bit -> index in sparse area
        self.rank = {}
        n = 0
        for i in range(len(self.bitmap) * 8):
            if self.bitmap[i // 8] >> (i % 8) & 1:
                self.rank[i] = n
                n += 1
        self.npages = n
        assert self.sparse_off + n * PAGE == len(h), \
            'file size %d != %d' % (len(h), self.sparse_off + n * PAGE)

    def bit_id(self, pa):
        adj = 0
        for s, e in self.dump_avail:
            if pa >= e:
                adj += (e + PAGE - 1) // PAGE - s // PAGE
            elif pa >= s:
                return pa // PAGE - s // PAGE + adj
            else:
                return None
        return None

    def pa_off(self, pa):
        b = self.bit_id(pa & ~(PAGE - 1))
        if b is None or b not in self.rank:
            return None
        return self.sparse_off + self.rank[b] * PAGE + (pa & (PAGE - 1))

    def va_to_pa(self, va):
        if va >= self.kernbase:
            idx = (va - self.kernbase) >> 21
            if idx >= self.pmapsize // 8:
                return None
            pde, = struct.unpack_from('<Q', self.d, self.pmap_off + idx * 8)
            if not pde & 1:
                return None
            if pde & 0x80:
                return (pde & 0x000fffffffe00000) + (va & 0x1fffff)
            o = self.pa_off(pde & 0x000ffffffffff000)
            if o is None:
                return None
            pte, = struct.unpack_from('<Q', self.d, o + ((va >> 12) & 511) * 8)
            if not pte & 1:
                return None
            return (pte & 0x000ffffffffff000) + (va & 0xfff)
        if self.dmapbase <= va < self.dmapend:
            return va - self.dmapbase
        return None

    def readpa(self, pa, n):
        out = b''
        while n > 0:
            c = min(n, PAGE - (pa & (PAGE - 1)))
            o = self.pa_off(pa)
            if o is None:
                raise KeyError('pa %#x not in minidump' % pa)
            out += self.d[o:o + c]
            pa += c
            n -= c
        return out

    def read(self, va, n):
        out = b''
        while n > 0:
            c = min(n, PAGE - (va & (PAGE - 1)))
            pa = self.va_to_pa(va)
            if pa is None:
                raise KeyError('va %#x not mapped' % va)
            out += self.readpa(pa, c)
            va += c
            n -= c
        return out


class Full:
    def __init__(self, path, kpml4):
        self.d = open(path, 'rb').read()
        d = self.d
        assert d[:4] == b'\x7fELF' and d[4] == 2
        etype, mach = struct.unpack_from('<HH', d, 16)
        assert etype == 4 and mach == 62, 'not ET_CORE/EM_X86_64'
        phoff, = struct.unpack_from('<Q', d, 32)
        phnum, = struct.unpack_from('<H', d, 56)
        self.loads = []
        for i in range(phnum):
            t, fl, off, va, pa, fsz, msz, al = struct.unpack_from(
                '<IIQQQQQQ', d, phoff + i * 56)
            assert t == 1 and va == pa and off % PAGE == 0
            self.loads.append((pa, fsz, off))
        self.kpml4 = kpml4

    def readpa(self, pa, n):
        for s, sz, off in self.loads:
            if s <= pa and pa + n <= s + sz:
                return self.d[off + pa - s:off + pa - s + n]
        raise KeyError('pa %#x not in full dump' % pa)

    def q(self, pa):
        return struct.unpack('<Q', self.readpa(pa, 8))[0]

    def va_to_pa(self, va):
        e = self.q(self.kpml4 + ((va >> 39) & 511) * 8)
        if not e & 1:
            return None
        e = self.q((e & 0xffffffffff000) + ((va >> 30) & 511) * 8)
        if not e & 1:
            return None
        if e & 0x80:
            return (e & 0xfffffc0000000) + (va & 0x3fffffff)
        e = self.q((e & 0xffffffffff000) + ((va >> 21) & 511) * 8)
        if not e & 1:
            return None
        if e & 0x80:
            return (e & 0xfffffffe00000) + (va & 0x1fffff)
        e = self.q((e & 0xffffffffff000) + ((va >> 12) & 511) * 8)
        if not e & 1:
            return None
        return (e & 0xffffffffff000) + (va & 0xfff)

    def read(self, va, n):
        out = b''
        while n > 0:
            c = min(n, PAGE - (va & (PAGE - 1)))
            pa = self.va_to_pa(va)
            if pa is None:
                raise KeyError('va %#x not mapped' % va)
            out += self.readpa(pa, c)
            va += c
            n -= c
        return out


def check_kdh(path, mini_len):
    d = open(path, 'rb').read()
    for name, h in (('leader', d[:512]), ('trailer', d[-512:])):
        assert h[:20] == b'FreeBSD Kernel Dump\0', name
        par = 0
        for i in range(0, 512, 4):
            par ^= struct.unpack_from('<I', h, i)[0]
        assert par == 0, '%s parity' % name
        ver, archver, dumplen, dumptime, keysz, bs = struct.unpack_from(
            '>IIQQII', h, 32)
        extent, = struct.unpack_from('>Q', h, 496)
        print('%s: arch=%s version=%d archver=%d dumplength=%d dumptime=%d '
              'blocksize=%d compression=%d extent=%d' % (
                  name, h[20:32].rstrip(b'\0').decode(), ver, archver,
                  dumplen, dumptime, bs, h[495], extent))
        print('  hostname=%r panic=%r' % (h[64:128].rstrip(b'\0').decode(),
              h[320:495].rstrip(b'\0').decode()))
        assert dumplen == mini_len == len(d) - 1024
    assert d[:512] == d[-512:]


def main():
    kpath, mpath = sys.argv[1], sys.argv[2]
    syms = elf_symbols(kpath)
    kd = open(kpath, 'rb').read()
    m = Mini(mpath)
    print('minidump v%d msgbufsize=%d bitmapsize=%d pmapsize=%d (%d GB '
          'pages) kernbase=%#x dmap=%#x-%#x dumpavailsize=%d pages=%d' % (
              m.version, m.msgbufsize, m.bitmapsize, m.pmapsize,
              m.pmapsize // PAGE, m.kernbase, m.dmapbase, m.dmapend,
              m.dumpavailsize, m.npages))
    print('dump_avail:', ', '.join('%#x-%#x' % r for r in m.dump_avail))
    rd = m.read
    if len(sys.argv) > 3 and sys.argv[3] != '-':
        kpml4 = struct.unpack('<Q', m.read(syms['KPML4phys'][0], 8))[0]
        f = Full(sys.argv[3], kpml4)
        print('full dump: %d PT_LOADs: %s' % (len(f.loads), ', '.join(
            '%#x+%#x@%#x' % l for l in f.loads)))
    else:
        f = None
    if len(sys.argv) > 4:
        check_kdh(sys.argv[4], len(m.d))

    def q(va, r=rd):
        return struct.unpack('<Q', r(va, 8))[0]

    def i32(va, r=rd):
        return struct.unpack('<i', r(va, 4))[0]

    def cstr(va, n, r=rd):
        return r(va, n).split(b'\0')[0].decode()

    # version[] in the dump vs in kernel.debug's .data
    vva, vsz, _ = syms['version']
    dver = rd(vva, vsz)
    # file offset of version in kernel.debug: find via program headers
    phoff, = struct.unpack_from('<Q', kd, 32)
    phnum, = struct.unpack_from('<H', kd, 56)
    for i in range(phnum):
        t, fl, off, va, pa, fsz, msz, al = struct.unpack_from(
            '<IIQQQQQQ', kd, phoff + i * 56)
        if t == 1 and va <= vva < va + fsz:
            kver = kd[off + vva - va:off + vva - va + vsz]
            vpa = pa + vva - va
    assert dver == kver, 'version differs'
    print('version[] at va %#x pa %#x matches kernel.debug: %r' % (
        vva, vpa, dver.split(b'\0')[0].decode()))
    if f:
        assert f.readpa(vpa, vsz) == kver, 'full dump version differs'
        print('  full dump: same bytes at pa %#x' % vpa)

    off = {n: i32(syms[n][0]) for n in (
        'proc_off_p_pid', 'proc_off_p_comm', 'proc_off_p_list',
        'proc_off_p_threads', 'thread_off_td_tid', 'thread_off_td_name',
        'thread_off_td_oncpu', 'thread_off_td_pcb', 'thread_off_td_plist',
        'thread_oncpu_size')}
    print('offsets:', off)
    panicstr = q(syms['panicstr'][0])
    print('panicstr: %r' % cstr(panicstr, 200))
    dumptid = i32(syms['dumptid'][0])
    print('dumptid:', dumptid, 'hz:', i32(syms['hz'][0]),
          'mp_maxid:', i32(syms['mp_maxid'][0]),
          'stopped_cpus:', hex(q(syms['stopped_cpus'][0])),
          'stoppcbs[0]: %#x' % stoppcbs_base(syms, q))

    def pcb_regs(pcb, r=rd):
        v = struct.unpack('<8Q', r(pcb, 64))
        return dict(zip(('r15', 'r14', 'r13', 'r12', 'rbp', 'rsp', 'rbx',
                         'rip'), v))

    def fpwalk(regs, r=rd):
        # pcb_rsp points at the return address slot: frame 0 is pcb_rip.
        out = [symbolize(syms, regs['rip'])]
        rbp = regs['rbp']
        for _ in range(20):
            if rbp == 0:
                break
            try:
                ret = q(rbp + 8, r)
                rbp = q(rbp, r)
            except KeyError:
                out.append('<unreadable>')
                break
            out.append(symbolize(syms, ret - 1))
        return out

    # fp, fp-stoppcbs-ptr, fp-kernphys: frame-pointer builds
    fp = kpath.split('/')[-2].startswith('fp') or '/fp/' in kpath
    for lname in ('allproc', 'zombproc'):
        p = q(syms[lname][0])
        while p:
            pid = i32(p + off['proc_off_p_pid'])
            comm = cstr(p + off['proc_off_p_comm'], 20)
            td = q(p + off['proc_off_p_threads'])
            while td:
                tid = i32(td + off['thread_off_td_tid'])
                name = cstr(td + off['thread_off_td_name'], 20)
                oncpu = rd(td + off['thread_off_td_oncpu'], 1)[0]
                pcb = q(td + off['thread_off_td_pcb'])
                regs = pcb_regs(pcb)
                src = 'td_pcb'
                if tid == dumptid:
                    regs = pcb_regs(syms['dumppcb'][0])
                    src = 'dumppcb'
                elif oncpu != 0xff:
                    regs = pcb_regs(stoppcbs_base(syms, q) + oncpu * 320)
                    src = 'stoppcbs[%d]' % oncpu
                print('%-8s pid %4d %-14s tid %d %-18r oncpu %-4s %-12s '
                      'rip %#x (%s) rsp %#x' % (
                          lname, pid, comm, tid, name,
                          'none' if oncpu == 0xff else oncpu, src,
                          regs['rip'], symbolize(syms, regs['rip']),
                          regs['rsp']))
                if f:
                    a = rd(td, 0x400)
                    b = f.read(td, 0x400)
                    assert a == b, 'thread %d differs mini/full' % tid
                    s1 = rd(regs['rsp'], 256)
                    assert s1 == f.read(regs['rsp'], 256), 'stack differs'
                if fp:
                    print('    fp walk:', ' <- '.join(fpwalk(regs)))
                td = q(td + off['thread_off_td_plist'])
            p = q(p + off['proc_off_p_list'])

    mb = q(syms['msgbufp'][0])
    ptr, magic, size, wseq, rseq, cksum, seqmod = struct.unpack(
        '<QIIIIII', rd(mb, 32))
    print('msgbuf at %#x: ptr %#x magic %#x size %d wseq %d rseq %d '
          'seqmod %d' % (mb, ptr, magic, size, wseq, rseq, seqmod))
    ring = rd(ptr, size)
    assert ring == m.d[m.msgbuf_off:m.msgbuf_off + size], 'msgbuf section'
    assert sum(ring) & 0xffffffff == cksum, 'msg_cksum'
    w = wseq % size
    whole = ring[w:] + ring[:w]
    unread_len = (wseq - rseq) % seqmod
    print('ring wrapped: %s; unread %d bytes:' % (wseq >= size, unread_len))
    print(whole[size - unread_len:].decode())
    if f:
        assert f.read(ptr, size) == ring
    print('OK')


if __name__ == '__main__':
    main()
