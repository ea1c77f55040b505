/*
 * prog.c: a user program that photographs its own stack for the unwinder's
 * tests. main -> a -> b -> c (always inlined into b) -> d, and d faults on a
 * NULL store. The SIGSEGV handler runs on the same stack and calls inner,
 * which calls snapshot. snapshot (assembly) records every general register
 * at the label snapshot_pc and dump_snapshot writes them, together with the
 * stack bytes [rsp, __libc_stack_end), to the file named by argv[1]. The
 * capture stops below argv, the environment and the auxiliary vector, so no
 * strings of the machine that ran it end up in the file.
 *
 * The handler is installed with the raw rt_sigaction system call and a
 * restorer of our own (__restore_rt below), so the signal frame's return
 * address lies in this program's text. The signal frame plays the part a
 * kernel trap frame plays in a crash dump.
 *
 * Snapshot file layout (little-endian):
 *   "KDAPSNAP"             8-byte magic
 *   u64 nregs              17 (DWARF amd64 numbers 0..16, rip last)
 *   u64 regs[nregs]        register values at snapshot_pc
 *   u64 gregoff[nregs]     offsetof(ucontext_t, uc_mcontext.gregs[REG_x])
 *                          for each DWARF register x
 *   u64 stack_lo           rsp at snapshot_pc
 *   u64 stack_len          bytes that follow
 *   u8  stack[stack_len]
 *
 * Build and run: see build.sh.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

extern void *__libc_stack_end;	/* glibc: the stack pointer _start got */
uint64_t snap_regs[17];
static const char *snap_path;

void snapshot(void);
void restorer_start(void);

__asm__(
	".text\n"
	".globl snapshot\n"
	".type snapshot,@function\n"
	"snapshot:\n"
	"	.cfi_startproc\n"
	"	pushq %rbp\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset 6, -16\n"
	"	movq %rsp, %rbp\n"
	"	.cfi_def_cfa_register 6\n"
	".globl snapshot_pc\n"
	"snapshot_pc:\n"
	"	movq %rax, snap_regs+0(%rip)\n"
	"	movq %rdx, snap_regs+8(%rip)\n"
	"	movq %rcx, snap_regs+16(%rip)\n"
	"	movq %rbx, snap_regs+24(%rip)\n"
	"	movq %rsi, snap_regs+32(%rip)\n"
	"	movq %rdi, snap_regs+40(%rip)\n"
	"	movq %rbp, snap_regs+48(%rip)\n"
	"	movq %rsp, snap_regs+56(%rip)\n"
	"	movq %r8, snap_regs+64(%rip)\n"
	"	movq %r9, snap_regs+72(%rip)\n"
	"	movq %r10, snap_regs+80(%rip)\n"
	"	movq %r11, snap_regs+88(%rip)\n"
	"	movq %r12, snap_regs+96(%rip)\n"
	"	movq %r13, snap_regs+104(%rip)\n"
	"	movq %r14, snap_regs+112(%rip)\n"
	"	movq %r15, snap_regs+120(%rip)\n"
	"	leaq snapshot_pc(%rip), %rax\n"
	"	movq %rax, snap_regs+128(%rip)\n"
	"	call dump_snapshot\n"
	"	popq %rbp\n"
	"	.cfi_def_cfa 7, 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size snapshot, .-snapshot\n"
	"\n"
	/* Like glibc's, the restorer's symbol starts one byte early so that
	 * return address - 1 still names it. No CFI: the unwinder must treat
	 * it as a trap entry. */
	".type __restore_rt,@function\n"
	"__restore_rt:\n"
	"	nop\n"
	".globl restorer_start\n"
	"restorer_start:\n"
	"	movq $15, %rax\n"
	"	syscall\n"
	".size __restore_rt, .-__restore_rt\n");

static void put(FILE *f, uint64_t v) { fwrite(&v, sizeof v, 1, f); }

/* gregoff[i] is where DWARF register i lives in a ucontext_t. */
static const int dwarf_to_greg[17] = {
	REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
	REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
	REG_RIP,
};

void dump_snapshot(void)
{
	uint64_t lo = snap_regs[7], hi = (uint64_t)__libc_stack_end;

	if (hi <= lo)
		_exit(3);
	FILE *f = fopen(snap_path, "wb");
	if (f == NULL)
		_exit(4);
	fwrite("KDAPSNAP", 8, 1, f);
	put(f, 17);
	for (int i = 0; i < 17; i++)
		put(f, snap_regs[i]);
	for (int i = 0; i < 17; i++)
		put(f, offsetof(ucontext_t, uc_mcontext.gregs) +
		    dwarf_to_greg[i] * sizeof(greg_t));
	put(f, lo);
	put(f, hi - lo);
	fwrite((const void *)lo, hi - lo, 1, f);
	if (fclose(f) != 0)
		_exit(5);
}

volatile long *volatile fault_addr;	/* NULL, opaque to the optimizer */
volatile long sink;

__attribute__((noinline)) void inner(long x)
{
	long keep = x * 7 + sink;	/* live across the call */
	snapshot();
	sink = keep;
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	inner(sig);
	_exit(0);
}

__attribute__((noinline)) long d(long x)
{
	long y = x ^ sink;
	*fault_addr = y;	/* SIGSEGV */
	return y + sink;
}

static inline __attribute__((always_inline)) long c(long x)
{
	long r = d(x * 3);
	return r + x;
}

__attribute__((noinline)) long b(long x)
{
	long r = c(x + 1);
	return r * x + sink;
}

__attribute__((noinline)) long a(long x)
{
	long k = x + sink;
	long r = b(x * 2);
	return r + k;
}

struct kernel_sigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

int main(int argc, char **argv)
{
	struct kernel_sigaction ksa;

	if (argc != 2) {
		fprintf(stderr, "usage: %s snapshot-file\n", argv[0]);
		return 1;
	}
	snap_path = argv[1];
	memset(&ksa, 0, sizeof ksa);
	ksa.handler = handler;
	ksa.flags = SA_SIGINFO | 0x04000000 /* SA_RESTORER */;
	ksa.restorer = restorer_start;
	if (syscall(SYS_rt_sigaction, SIGSEGV, &ksa, NULL, sizeof ksa.mask) != 0) {
		perror("rt_sigaction");
		return 1;
	}
	return (int)a(argc + 40);
}
