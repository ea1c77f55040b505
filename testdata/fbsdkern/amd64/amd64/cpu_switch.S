/*
 * Context switching with FreeBSD's conventions: the pcb receives %rbx,
 * %rbp, %rsp, %r12-%r15 and %rip, where pcb_rip is the caller's return
 * address and pcb_rsp points at the stack slot that holds it.
 */
#include "assym.inc"

	.text

/* void cpu_switch(struct thread *old, struct thread *new, struct mtx *mtx) */
	.globl	cpu_switch
	.type	cpu_switch, @function
cpu_switch:
	.cfi_startproc
	movq	TD_PCB(%rdi), %r8
	movq	(%rsp), %rax
	movq	%rax, PCB_RIP(%r8)
	movq	%rbx, PCB_RBX(%r8)
	movq	%rsp, PCB_RSP(%r8)
	movq	%rbp, PCB_RBP(%r8)
	movq	%r12, PCB_R12(%r8)
	movq	%r13, PCB_R13(%r8)
	movq	%r14, PCB_R14(%r8)
	movq	%r15, PCB_R15(%r8)
	movq	%cr3, %rax
	movq	%rax, PCB_CR3(%r8)
	jmp	cpu_switch_load
	.cfi_endproc
	.size	cpu_switch, . - cpu_switch

/* void cpu_throw(struct thread *old, struct thread *new): nothing saved. */
	.globl	cpu_throw
	.type	cpu_throw, @function
cpu_throw:
	.cfi_startproc
cpu_switch_load:
	movq	TD_PCB(%rsi), %r8
	movq	PCB_RBX(%r8), %rbx
	movq	PCB_RBP(%r8), %rbp
	movq	PCB_R12(%r8), %r12
	movq	PCB_R13(%r8), %r13
	movq	PCB_R14(%r8), %r14
	movq	PCB_R15(%r8), %r15
	movq	PCB_RSP(%r8), %rsp
	movq	PCB_RIP(%r8), %rax
	movq	%rax, (%rsp)
	ret
	.cfi_endproc
	.size	cpu_throw, . - cpu_throw

/* int savectx(struct pcb *pcb) */
	.globl	savectx
	.type	savectx, @function
savectx:
	.cfi_startproc
	movq	(%rsp), %rax
	movq	%rax, PCB_RIP(%rdi)
	movq	%rbx, PCB_RBX(%rdi)
	movq	%rsp, PCB_RSP(%rdi)
	movq	%rbp, PCB_RBP(%rdi)
	movq	%r12, PCB_R12(%rdi)
	movq	%r13, PCB_R13(%rdi)
	movq	%r14, PCB_R14(%rdi)
	movq	%r15, PCB_R15(%rdi)
	movq	%cr0, %rax
	movq	%rax, PCB_CR0(%rdi)
	movq	%cr2, %rax
	movq	%rax, PCB_CR2(%rdi)
	movq	%cr3, %rax
	movq	%rax, PCB_CR3(%rdi)
	movq	%cr4, %rax
	movq	%rax, PCB_CR4(%rdi)
	xorl	%eax, %eax
	ret
	.cfi_endproc
	.size	savectx, . - savectx

/*
 * First code of every new thread (pcb_rip), entered with %rsp = td_frame:
 * fork_exit(callout = %r12, arg = %rbx, frame = %rsp).  The return address
 * column is undefined: the end of every thread's call chain.
 */
	.globl	fork_trampoline
	.type	fork_trampoline, @function
fork_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	movq	%r12, %rdi
	movq	%rbx, %rsi
	movq	%rsp, %rdx
	call	fork_exit
1:	hlt
	jmp	1b
	.cfi_endproc
	.size	fork_trampoline, . - fork_trampoline

/* void call_on_stack(void (*fn)(void), void *stacktop) */
	.globl	call_on_stack
	.type	call_on_stack, @function
call_on_stack:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register rbp
	movq	%rsi, %rsp
	call	*%rdi
	movq	%rbp, %rsp
	popq	%rbp
	.cfi_def_cfa rsp, 8
	ret
	.cfi_endproc
	.size	call_on_stack, . - call_on_stack

/* void outsb_port(int port, const void *buf, size_t len) */
	.globl	outsb_port
	.type	outsb_port, @function
outsb_port:
	.cfi_startproc
	movq	%rdx, %rcx
	movl	%edi, %edx
	cld
	rep outsb
	ret
	.cfi_endproc
	.size	outsb_port, . - outsb_port

	.globl	rcr2
	.type	rcr2, @function
rcr2:
	.cfi_startproc
	movq	%cr2, %rax
	ret
	.cfi_endproc
	.size	rcr2, . - rcr2

	.globl	rcr3
	.type	rcr3, @function
rcr3:
	.cfi_startproc
	movq	%cr3, %rax
	ret
	.cfi_endproc
	.size	rcr3, . - rcr3

	.globl	cpu_halt
	.type	cpu_halt, @function
cpu_halt:
	.cfi_startproc
	cli
1:	hlt
	jmp	1b
	.cfi_endproc
	.size	cpu_halt, . - cpu_halt

/*
 * Page fault entry.  The CPU pushed %ss, %rsp, %rflags, %cs, %rip and the
 * error code; Xpage completes a struct trapframe at %rsp and calltrap
 * passes it to trap().  The CFI describes the interrupted context from the
 * trapframe (signal frame: the caller's %rip is not a return address).
 */
	.globl	Xpage
	.type	Xpage, @function
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa rsp, 48
	.cfi_offset rip, -40
	.cfi_offset rsp, -16
Xpage:
	subq	$TF_ERR, %rsp
	.cfi_adjust_cfa_offset TF_ERR
	movq	%rdi, TF_RDI(%rsp)
	movq	%rsi, TF_RSI(%rsp)
	movq	%rdx, TF_RDX(%rsp)
	movq	%rcx, TF_RCX(%rsp)
	movq	%r8, TF_R8(%rsp)
	movq	%r9, TF_R9(%rsp)
	movq	%rax, TF_RAX(%rsp)
	movq	%rbx, TF_RBX(%rsp)
	.cfi_rel_offset rbx, TF_RBX
	movq	%rbp, TF_RBP(%rsp)
	.cfi_rel_offset rbp, TF_RBP
	movq	%r10, TF_R10(%rsp)
	movq	%r11, TF_R11(%rsp)
	movq	%r12, TF_R12(%rsp)
	.cfi_rel_offset r12, TF_R12
	movq	%r13, TF_R13(%rsp)
	.cfi_rel_offset r13, TF_R13
	movq	%r14, TF_R14(%rsp)
	.cfi_rel_offset r14, TF_R14
	movq	%r15, TF_R15(%rsp)
	.cfi_rel_offset r15, TF_R15
	movl	$12, TF_TRAPNO(%rsp)		/* T_PAGEFLT */
	movq	%cr2, %rax
	movq	%rax, TF_ADDR(%rsp)
	movw	%fs, TF_FS(%rsp)
	movw	%gs, TF_GS(%rsp)
	movw	%es, TF_ES(%rsp)
	movw	%ds, TF_DS(%rsp)
	movl	$1, TF_FLAGS(%rsp)		/* TF_HASSEGS */
	cld
	.globl	alltraps
alltraps:
	.globl	calltrap
calltrap:
	movq	%rsp, %rdi
	call	trap
1:	cli
	hlt
	jmp	1b
	.cfi_endproc
	.size	Xpage, . - Xpage
