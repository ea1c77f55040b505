/* Boot entry (PVH note: 32-bit, paging off, %ebx = hvm_start_info): build
 * the boot page tables, enter long mode, run hammer_time(), mi_startup(). */
#include "assym.inc"	/* KERNPHYS_PA: physical address of the image */
#if KERNPHYS_PA == 0x200000	/* identity map while paging is switched on: */
#define	IDMAP_PDP	boot_pdp_lo	/* the kernel PD (covers the image) */
#else
#define	IDMAP_PDP	boot_dmap_pdp	/* the 1 GB direct-map page at 0 */
#endif
	.set	KERNBASE, 0xffffffff80000000
#define	PHYS(x)	((x) - KERNBASE - 0x200000 + KERNPHYS_PA)
#define	PG_V_RW	0x003
#define	PG_PS	0x080

	.section .note.Xen, "a"
	.p2align 2
	.long	4			/* namesz */
	.long	4			/* descsz */
	.long	18			/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.long	PHYS(xen_start32)

	.text
	.code32
	.globl	xen_start32
	.type	xen_start32, @function
xen_start32:
	cli
	cld
	movl	%ebx, %esi
	/* Clear .bss. */
	movl	$PHYS(__bss_start), %edi
	movl	$PHYS(_end), %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb
	movl	%esi, PHYS(hvm_start_info_pa)

	/* Kernel page directory: nkpt (2) 2 MB pages, at 0 and KERNPHYS_PA. */
	movl	$PHYS(boot_kpd), %edi
	movl	$(PG_V_RW | PG_PS), %eax
	movl	$NKPT_BOOT, %ecx
1:	movl	%eax, (%edi)
	addl	$KERNPHYS_PA, %eax
	addl	$8, %edi
	loop	1b

	/* PML4[0] -> identity PDP (temporary), PML4[511] -> high PDP. */
	movl	$PHYS(IDMAP_PDP), %eax
	orl	$PG_V_RW, %eax
	movl	%eax, PHYS(boot_pml4)
	movl	$PHYS(boot_pdp_hi), %eax
	orl	$PG_V_RW, %eax
	movl	%eax, PHYS(boot_pml4) + 511 * 8
	movl	$PHYS(boot_kpd), %eax
	orl	$PG_V_RW, %eax
	movl	%eax, PHYS(boot_pdp_lo)
	movl	%eax, PHYS(boot_pdp_hi) + 510 * 8

	/* Direct map: PML4[496] -> PDP whose entry 0 is a 1 GB page at 0. */
	movl	$PHYS(boot_dmap_pdp), %eax
	orl	$PG_V_RW, %eax
	movl	%eax, PHYS(boot_pml4) + 496 * 8
	movl	$(PG_V_RW | PG_PS), PHYS(boot_dmap_pdp)

	/* KVA: PML4[508..510] -> PDPs; PDP[0] of 508 -> PD; PD[0] -> PT. */
	movl	$PHYS(boot_kva_pdp), %eax
	orl	$PG_V_RW, %eax
	movl	%eax, PHYS(boot_pml4) + 508 * 8
	addl	$0x1000, %eax
	movl	%eax, PHYS(boot_pml4) + 509 * 8
	addl	$0x1000, %eax
	movl	%eax, PHYS(boot_pml4) + 510 * 8
	movl	$PHYS(boot_kva_pd), %eax
	orl	$PG_V_RW, %eax
	movl	%eax, PHYS(boot_kva_pdp)
	movl	$PHYS(boot_kva_pt), %eax
	orl	$PG_V_RW, %eax
	movl	%eax, PHYS(boot_kva_pd)

	/* PAE, CR3, EFER.LME, paging. */
	movl	%cr4, %eax
	orl	$0x20, %eax
	movl	%eax, %cr4
	movl	$PHYS(boot_pml4), %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx
	rdmsr
	orl	$0x100, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$0x80010001, %eax
	movl	%eax, %cr0
	lgdt	PHYS(gdtdesc32)
	ljmp	$0x08, $PHYS(enter64)

	.code64
enter64:
	movabsq	$btext, %rax
	jmp	*%rax
	.size	xen_start32, . - xen_start32

/*
 * btext: first code at the kernel's virtual address.  Like FreeBSD's
 * locore it calls hammer_time() and then mi_startup() on thread0's stack;
 * its return address column is undefined so unwinders stop here.
 */
	.globl	btext
	.type	btext, @function
btext:
	.cfi_startproc
	.cfi_undefined rip
	lgdt	gdtdesc64(%rip)
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	leaq	thread0_kstack + KSTACK_SIZE - 0x200(%rip), %rsp
	xorl	%ebp, %ebp
	movl	hvm_start_info_pa(%rip), %edi
	call	hammer_time
	call	mi_startup
2:	hlt
	jmp	2b
	.cfi_endproc
	.size	btext, . - btext

	.data
	.p2align 3
	.globl	hvm_start_info_pa
hvm_start_info_pa:
	.quad	0
	.p2align 4
gdt:
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x08: 64-bit kernel code */
	.quad	0x00cf92000000ffff	/* 0x10: kernel data */
gdt_end:
	.p2align 3
gdtdesc32:
	.word	gdt_end - gdt - 1
	.long	PHYS(gdt)
	.p2align 3
	.word	0, 0, 0
gdtdesc64:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.bss
	.p2align 12
	.globl	boot_pml4, boot_kpd, boot_pdp_lo, boot_pdp_hi, boot_dmap_pdp
	.globl	boot_kva_pdp, boot_kva_pd, boot_kva_pt, thread0_kstack
boot_pml4:	.skip	4096
boot_pdp_lo:	.skip	4096
boot_pdp_hi:	.skip	4096
boot_kpd:	.skip	4096
boot_dmap_pdp:	.skip	4096
boot_kva_pdp:	.skip	3 * 4096
boot_kva_pd:	.skip	4096
boot_kva_pt:	.skip	4096
thread0_kstack:	.skip	KSTACK_SIZE
