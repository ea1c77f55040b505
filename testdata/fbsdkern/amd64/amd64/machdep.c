/*
 * Machine-dependent start-up: the physical memory map, dump_avail, the
 * page allocator, the direct map, kernel stacks and the IDT.
 */
#include "../../sys/kdap_kern.h"

struct hvm_start_info {
	uint32_t	magic;
	uint32_t	version;
	uint32_t	flags;
	uint32_t	nr_modules;
	uint64_t	modlist_paddr;
	uint64_t	cmdline_paddr;
	uint64_t	rsdp_paddr;
	uint64_t	memmap_paddr;
	uint32_t	memmap_entries;
	uint32_t	reserved;
};

struct hvm_memmap_table_entry {
	uint64_t	addr;
	uint64_t	size;
	uint32_t	type;
	uint32_t	reserved;
};

extern uint64_t boot_pml4[], boot_pdp_lo[], boot_kva_pt[];
extern char thread0_kstack[];
extern char kernbase[], _end[];

uint64_t KPML4phys;
int nkpt = 2;
vm_offset_t kernel_vm_end = VM_MIN_KERNEL_ADDRESS + NBPDR;
vm_paddr_t dump_avail[PHYS_AVAIL_ENTRIES];
vm_paddr_t phys_avail[PHYS_AVAIL_ENTRIES];
long physmem;
long Maxmem;
int kdap_mode_trap;
int kdap_dumpver = 3;
char kdap_cmdline[256];

/* Physical pages for the direct map allocator and kernel stacks. */
#define PHYS_ALLOC_START	0x00800000UL
#define PHYS_ALLOC_END		0x01000000UL
static vm_paddr_t phys_next = PHYS_ALLOC_START;

vm_paddr_t
vm_phys_alloc_page(void)
{
	vm_paddr_t pa = phys_next;

	if (pa >= PHYS_ALLOC_END)
		panic("vm_phys_alloc_page: out of memory");
	phys_next += PAGE_SIZE;
	memset((void *)PHYS_TO_DMAP(pa), 0, PAGE_SIZE);
	return (pa);
}

/*
 * Small allocations come from whole pages reached through the direct map,
 * as UMA's small-page allocator does; such pages are added to the dump.
 */
static char *uma_cur, *uma_end;

void *
uma_small_alloc(size_t size)
{
	void *p;

	size = (size + 63) & ~63UL;
	if (uma_cur == NULL || uma_cur + size > uma_end) {
		size_t npages = round_page(size) / PAGE_SIZE;
		vm_paddr_t pa = vm_phys_alloc_page();

		dump_add_page(pa);
		for (size_t i = 1; i < npages; i++)
			dump_add_page(vm_phys_alloc_page());
		uma_cur = (char *)PHYS_TO_DMAP(pa);
		uma_end = uma_cur + npages * PAGE_SIZE;
	}
	p = uma_cur;
	uma_cur += size;
	return (p);
}

/* Kernel stacks: KSTACK_PAGES mapped pages above one unmapped guard page. */
static vm_offset_t kva_next = VM_MIN_KERNEL_ADDRESS;

vm_offset_t
kstack_alloc(void)
{
	vm_offset_t va;
	int i;

	va = kva_next + KSTACK_GUARD_PAGES * PAGE_SIZE;
	kva_next += (KSTACK_GUARD_PAGES + KSTACK_PAGES) * PAGE_SIZE;
	for (i = 0; i < KSTACK_PAGES; i++) {
		vm_offset_t pva = va + i * PAGE_SIZE;
		u_long idx = (pva - VM_MIN_KERNEL_ADDRESS) >> PAGE_SHIFT;

		boot_kva_pt[idx] = vm_phys_alloc_page() | PG_V | PG_RW | PG_A |
		    PG_M;
	}
	return (va);
}

/* Interrupt descriptor table: only the page fault vector is used. */
struct gate_descriptor {
	uint64_t lo;
	uint64_t hi;
};
static struct gate_descriptor idt0[32] __aligned(16);

static void
setidt(int idx, void (*func)(void))
{
	uint64_t off = (uint64_t)func;

	idt0[idx].lo = (off & 0xffff) | (0x08UL << 16) | (0x8eUL << 40) |
	    ((off >> 16) & 0xffff) << 48;
	idt0[idx].hi = off >> 32;
}

static void
lidt(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) d = { sizeof(idt0) - 1, (uint64_t)idt0 };

	__asm__ volatile("lidt %0" :: "m"(d));
}

static void
parse_cmdline(const char *cl)
{
	strlcpy(kdap_cmdline, cl, sizeof(kdap_cmdline));
	if (strstr(cl, "kdap.mode=trap") != NULL)
		kdap_mode_trap = 1;
	if (strstr(cl, "dumpver=2") != NULL)
		kdap_dumpver = 2;
}

static void
getmemsize(struct hvm_start_info *si)
{
	struct hvm_memmap_table_entry *mm;
	int n = 0;
	uint32_t i;

	if (si->version >= 1 && si->memmap_entries > 0) {
		mm = (void *)PHYS_TO_DMAP(si->memmap_paddr);
		for (i = 0; i < si->memmap_entries && n < 16; i++) {
			vm_paddr_t s, e;

			if (mm[i].type != 1)
				continue;
			s = round_page(mm[i].addr);
			e = trunc_page(mm[i].addr + mm[i].size);
			if (s == 0)
				s = PAGE_SIZE;	/* page 0 is never dumped */
			if (e <= s)
				continue;
			dump_avail[n] = s;
			dump_avail[n + 1] = e;
			n += 2;
		}
	}
	if (n == 0) {
		dump_avail[0] = PAGE_SIZE;
		dump_avail[1] = 0x9f000;
		dump_avail[2] = 0x100000;
		dump_avail[3] = 0x2000000;
		n = 4;
	}
	dump_avail[n] = dump_avail[n + 1] = 0;
	for (i = 0; i < (uint32_t)n + 2; i++)
		phys_avail[i] = dump_avail[i];
	physmem = 0;
	for (i = 0; dump_avail[i + 1] != 0; i += 2)
		physmem += (dump_avail[i + 1] - dump_avail[i]) / PAGE_SIZE;
	Maxmem = dump_avail[n - 1] / PAGE_SIZE;
}

void init_proc0(void);
u_long hammer_time(uint64_t start_info_pa);

u_long
hammer_time(uint64_t start_info_pa)
{
	struct hvm_start_info *si;
	vm_paddr_t pa;
	int i;

	KPML4phys = (uint64_t)boot_pml4 - KVTOP_OFFSET;
	/* Drop the identity mapping used while entering long mode. */
	boot_pml4[0] = 0;
	__asm__ volatile("movq %0, %%cr3" :: "r"(KPML4phys) : "memory");

	si = (void *)PHYS_TO_DMAP(start_info_pa);
	if (si->cmdline_paddr != 0)
		parse_cmdline((const char *)PHYS_TO_DMAP(si->cmdline_paddr));
	getmemsize(si);
	vm_page_dump_init();

	/* The message buffer lives in two direct-mapped pages. */
	pa = vm_phys_alloc_page();
	dump_add_page(pa);
	dump_add_page(vm_phys_alloc_page());
	msgbufinit((void *)PHYS_TO_DMAP(pa), 8192);

	for (i = 0; i < MAXCPU; i++) {
		__pcpu[i].pc_cpuid = i;
		__pcpu[i].pc_prvspace = &__pcpu[i];
		__pcpu[i].pc_apic_id = i;
		__pcpu[i].pc_acpi_id = i;
		__pcpu[i].pc_kcr3 = KPML4phys;
		cpuid_to_pcpu[i] = &__pcpu[i];
	}
	__pcpu[0].pc_allcpu_next = &__pcpu[1];
	STOPPCBS_ALLOC		/* STOPPCBS_PTR builds: allocate stoppcbs */
	setidt(14, Xpage);
	lidt();

	init_proc0();
	return ((u_long)thread0_kstack + KSTACK_PAGES * PAGE_SIZE - 0x200);
}
