/*
 * amd64 minidump writer.  Layout (FreeBSD 13+ minidump version 3):
 * header page, message buffer, dump_avail page, page bitmap, one page of
 * PDEs per GB of kernel VA from VM_MIN_KERNEL_ADDRESS, then every page
 * whose bit is set.  Version 2 has no dump_avail page and its bitmap is
 * indexed by physical page number.  The dump goes to QEMU's debugcon port
 * framed by a leading and a trailing struct kerneldumpheader, as it would
 * sit on a dump device.
 */
#include "../../sys/kdap_kern.h"

#define DEBUGCON_PORT	0xe9
#define DUMP_BLOCKSIZE	512
#define DUMP_TIME	1700000000UL
#define BITSET_SIZE(n)	((((n) + 63) / 64) * 8)

/* The page bitmap, indexed by page across the dump_avail ranges. */
#define VM_PAGE_DUMP_MAXPAGES	(256 * 1024 * 1024 / PAGE_SIZE)
static long vm_page_dump_store[VM_PAGE_DUMP_MAXPAGES / 64] __aligned(4096);
long *vm_page_dump = vm_page_dump_store;
long vm_page_dump_pages;

static uint64_t fakepd[NPDEPG] __aligned(4096);
static long v2_bitmap[VM_PAGE_DUMP_MAXPAGES / 64] __aligned(4096);
static struct kerneldumpheader kdh;
static uint64_t dump_written;

extern long physmem;

static uint64_t
pa_bit_id(vm_paddr_t pa)
{
	uint64_t adj = 0;
	int i;

	for (i = 0; dump_avail[i + 1] != 0; i += 2) {
		if (pa >= dump_avail[i + 1]) {
			adj += (dump_avail[i + 1] + PAGE_MASK) / PAGE_SIZE -
			    dump_avail[i] / PAGE_SIZE;
		} else if (pa >= dump_avail[i]) {
			return (pa / PAGE_SIZE - dump_avail[i] / PAGE_SIZE + adj);
		} else {
			break;
		}
	}
	return (~0UL);
}

static vm_paddr_t
bit_id_pa(uint64_t id)
{
	uint64_t sz;
	int i;

	for (i = 0; dump_avail[i + 1] != 0; i += 2) {
		sz = (dump_avail[i + 1] + PAGE_MASK) / PAGE_SIZE -
		    dump_avail[i] / PAGE_SIZE;
		if (id < sz)
			return (trunc_page(dump_avail[i]) + id * PAGE_SIZE);
		id -= sz;
	}
	return (~0UL);
}

void
vm_page_dump_init(void)
{
	int i;

	vm_page_dump_pages = 0;
	for (i = 0; dump_avail[i + 1] != 0; i += 2)
		vm_page_dump_pages += (dump_avail[i + 1] + PAGE_MASK) /
		    PAGE_SIZE - dump_avail[i] / PAGE_SIZE;
	if (vm_page_dump_pages > VM_PAGE_DUMP_MAXPAGES)
		vm_page_dump_pages = VM_PAGE_DUMP_MAXPAGES;
}

int
is_dumpable(vm_paddr_t pa)
{
	int i;

	for (i = 0; dump_avail[i + 1] != 0; i += 2)
		if (pa >= dump_avail[i] && pa < dump_avail[i + 1])
			return (1);
	return (0);
}

void
dump_add_page(vm_paddr_t pa)
{
	uint64_t id = pa_bit_id(pa);

	if (id < (uint64_t)vm_page_dump_pages)
		vm_page_dump[id / 64] |= 1L << (id % 64);
}

void
dump_drop_page(vm_paddr_t pa)
{
	uint64_t id = pa_bit_id(pa);

	if (id < (uint64_t)vm_page_dump_pages)
		vm_page_dump[id / 64] &= ~(1L << (id % 64));
}

static void
dump_write(const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		size_t n = len > 65536 ? 65536 : len;

		outsb_port(DEBUGCON_PORT, c, n);
		c += n;
		len -= n;
		dump_written += n;
	}
}

static uint32_t
htod32(uint32_t v)
{
	return (__builtin_bswap32(v));
}

static uint64_t
htod64(uint64_t v)
{
	return (__builtin_bswap64(v));
}

static void
dump_init_header(struct kerneldumpheader *h, uint64_t dumplen)
{
	uint32_t *up, parity;
	u_int i;

	memset(h, 0, sizeof(*h));
	strlcpy(h->magic, KERNELDUMPMAGIC, sizeof(h->magic));
	strlcpy(h->architecture, "amd64", sizeof(h->architecture));
	h->version = htod32(KERNELDUMPVERSION);
	h->architectureversion = htod32(KERNELDUMP_AMD64_VERSION);
	h->dumplength = htod64(dumplen);
	h->dumpextent = h->dumplength;
	h->dumptime = htod64(DUMP_TIME);
	h->dumpkeysize = 0;
	h->blocksize = htod32(DUMP_BLOCKSIZE);
	strlcpy(h->hostname, "kdap-fixture", sizeof(h->hostname));
	strlcpy(h->versionstring, version, sizeof(h->versionstring));
	if (panicstr != NULL)
		strlcpy(h->panicstring, panicstr, sizeof(h->panicstring));
	h->compression = 0;
	parity = 0;
	up = (uint32_t *)h;
	for (i = 0; i < sizeof(*h); i += sizeof(*up))
		parity ^= *up++;
	h->parity = parity;
}

static uint64_t *
pml4e_pdp(vm_offset_t va)
{
	uint64_t pml4e = ((uint64_t *)PHYS_TO_DMAP(KPML4phys))[(va >> 39) & 511];

	if ((pml4e & PG_V) == 0)
		return (NULL);
	return ((uint64_t *)PHYS_TO_DMAP(pml4e & PG_FRAME));
}

static vm_offset_t
kva_end(void)
{
	vm_offset_t e = KERNBASE + (vm_offset_t)nkpt * NBPDR;

	return (e > kernel_vm_end ? e : kernel_vm_end);
}

int
minidumpsys(void)
{
	struct minidumphdr mdhdr;
	uint64_t dumpsize, pmapsize, bitmapsize, dumpavailsize, *pdp, *pd, *pt;
	vm_offset_t va;
	vm_paddr_t pa;
	uint64_t id;
	int i, j, k, n, ver = kdap_dumpver;

	/* Pass 1: every page the kernel page tables map, and PT pages. */
	pmapsize = 0;
	for (va = VM_MIN_KERNEL_ADDRESS; va < kva_end(); ) {
		pmapsize += PAGE_SIZE;
		pdp = pml4e_pdp(va);
		i = (va >> 30) & 511;
		if (pdp == NULL || (pdp[i] & PG_V) == 0) {
			va += NBPDP;
			continue;
		}
		if ((pdp[i] & PG_PS) != 0) {
			va += NBPDP;
			pa = pdp[i] & 0x000fffffc0000000UL;
			for (n = 0; n < NPDEPG * NPTEPG; n++, pa += PAGE_SIZE)
				if (is_dumpable(pa))
					dump_add_page(pa);
			continue;
		}
		pd = (uint64_t *)PHYS_TO_DMAP(pdp[i] & PG_FRAME);
		for (n = 0; n < NPDEPG; n++, va += NBPDR) {
			j = (va >> 21) & 511;
			if ((pd[j] & PG_V) == 0)
				continue;
			if ((pd[j] & PG_PS) != 0) {
				pa = pd[j] & PG_PS_FRAME;
				for (k = 0; k < NPTEPG; k++, pa += PAGE_SIZE)
					if (is_dumpable(pa))
						dump_add_page(pa);
				continue;
			}
			pa = pd[j] & PG_FRAME;
			if (is_dumpable(pa))
				dump_add_page(pa);
			pt = (uint64_t *)PHYS_TO_DMAP(pa);
			for (k = 0; k < NPTEPG; k++) {
				if ((pt[k] & PG_V) == 0)
					continue;
				pa = pt[k] & PG_FRAME;
				if (is_dumpable(pa))
					dump_add_page(pa);
			}
		}
	}

	/* Sizes. */
	dumpavailsize = ver >= 3 ? round_page(sizeof(dump_avail)) : 0;
	if (ver >= 3) {
		bitmapsize = round_page(BITSET_SIZE(vm_page_dump_pages));
	} else {
		uint64_t maxpg = 0;

		for (i = 0; dump_avail[i + 1] != 0; i += 2)
			maxpg = dump_avail[i + 1] / PAGE_SIZE;
		bitmapsize = round_page(BITSET_SIZE(maxpg));
		memset(v2_bitmap, 0, sizeof(v2_bitmap));
	}
	dumpsize = PAGE_SIZE + round_page(msgbufp->msg_size) + dumpavailsize +
	    bitmapsize + pmapsize;
	for (id = 0; id < (uint64_t)vm_page_dump_pages; id++) {
		if ((vm_page_dump[id / 64] & (1L << (id % 64))) == 0)
			continue;
		pa = bit_id_pa(id);
		if (!is_dumpable(pa)) {
			dump_drop_page(pa);
			continue;
		}
		dumpsize += PAGE_SIZE;
		if (ver < 3)
			v2_bitmap[(pa / PAGE_SIZE) / 64] |= 1L << ((pa / PAGE_SIZE) % 64);
	}

	memset(&mdhdr, 0, sizeof(mdhdr));
	strlcpy(mdhdr.magic, MINIDUMP_MAGIC, sizeof(mdhdr.magic));
	mdhdr.version = ver;
	mdhdr.msgbufsize = msgbufp->msg_size;
	mdhdr.bitmapsize = bitmapsize;
	mdhdr.pmapsize = pmapsize;
	mdhdr.kernbase = VM_MIN_KERNEL_ADDRESS;
	mdhdr.dmapbase = DMAP_MIN_ADDRESS;
	mdhdr.dmapend = DMAP_MAX_ADDRESS;
	mdhdr.dumpavailsize = dumpavailsize;

	printf("Dumping %lu out of %lu MB:", dumpsize >> 20,
	    physmem * PAGE_SIZE / 1048576);

	dump_init_header(&kdh, dumpsize);
	dump_written = 0;
	dump_write(&kdh, sizeof(kdh));

	/* Header page. */
	memset(fakepd, 0, sizeof(fakepd));
	memcpy(fakepd, &mdhdr, sizeof(mdhdr));
	dump_write(fakepd, PAGE_SIZE);

	/* Message buffer. */
	dump_write(msgbufp->msg_ptr, round_page(msgbufp->msg_size));

	/* dump_avail. */
	if (ver >= 3) {
		memset(fakepd, 0, sizeof(fakepd));
		memcpy(fakepd, dump_avail, sizeof(dump_avail));
		dump_write(fakepd, PAGE_SIZE);
	}

	/* Bitmap. */
	dump_write(ver >= 3 ? (void *)vm_page_dump : (void *)v2_bitmap,
	    bitmapsize);

	/* Kernel page directory pages, one per GB of KVA. */
	for (va = VM_MIN_KERNEL_ADDRESS; va < kva_end(); va += NBPDP) {
		pdp = pml4e_pdp(va);
		i = (va >> 30) & 511;
		memset(fakepd, 0, sizeof(fakepd));
		if (pdp == NULL || (pdp[i] & PG_V) == 0) {
			dump_write(fakepd, PAGE_SIZE);
			continue;
		}
		if ((pdp[i] & PG_PS) != 0) {
			fakepd[0] = pdp[i];
			for (j = 1; j < NPDEPG; j++)
				fakepd[j] = fakepd[j - 1] + NBPDR;
			dump_write(fakepd, PAGE_SIZE);
			continue;
		}
		dump_write((void *)PHYS_TO_DMAP(pdp[i] & PG_FRAME), PAGE_SIZE);
	}

	/* The pages, in bitmap order (ascending physical address). */
	for (id = 0; id < (uint64_t)vm_page_dump_pages; id++) {
		if ((vm_page_dump[id / 64] & (1L << (id % 64))) == 0)
			continue;
		dump_write((void *)PHYS_TO_DMAP(bit_id_pa(id)), PAGE_SIZE);
	}

	dump_write(&kdh, sizeof(kdh));
	if (dump_written != dumpsize + 2 * sizeof(kdh))
		cnputs("\nminidump: size mismatch\n");
	cnputs("\nDump complete\n");
	return (0);
}
