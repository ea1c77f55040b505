/* Traps and system call dispatch. */
#include "../../sys/kdap_kern.h"

#define PSL_I	0x200

static __noinline void __dead2
trap_fatal(struct trapframe *frame, vm_offset_t eva)
{
	struct thread *td = curthread;

	printf("\n\nFatal trap %d: %s while in %s mode\n", frame->tf_trapno,
	    "page fault", "kernel");
	printf("cpuid = %d; apic id = %02x\n", 0, __pcpu[0].pc_apic_id);
	printf("fault virtual address\t= 0x%lx\n", eva);
	printf("fault code\t\t= supervisor %s data, page not present\n",
	    (frame->tf_err & 2) ? "write" : "read");
	printf("instruction pointer\t= 0x%lx:0x%lx\n", frame->tf_cs,
	    frame->tf_rip);
	printf("stack pointer\t        = 0x%lx:0x%lx\n", frame->tf_ss,
	    frame->tf_rsp);
	printf("frame pointer\t        = 0x%lx:0x%lx\n", frame->tf_ss,
	    frame->tf_rbp);
	printf("code segment\t\t= base 0x0, limit 0xfffff, type 0x1b\n");
	printf("\t\t\t= DPL 0, pres 1, long 1, def32 0, gran 1\n");
	printf("processor eflags\t= %sresume, IOPL = 0\n",
	    (frame->tf_rflags & PSL_I) ? "interrupt enabled, " : "");
	printf("current process\t\t= %d (%s)\n", td->td_proc->p_pid,
	    td->td_name);
	printf("trap number\t\t= %d\n", frame->tf_trapno);
	panic("%s", "page fault");
}

static __noinline int
trap_pfault(struct trapframe *frame, int usermode)
{
	vm_offset_t eva = frame->tf_addr;

	if (!usermode && eva < PAGE_SIZE)
		trap_fatal(frame, eva);
	return (-1);
}

__noinline void
trap(struct trapframe *frame)
{
	struct thread *td = curthread;

	td->td_intr_frame = frame;
	if (frame->tf_trapno == T_PAGEFLT)
		trap_pfault(frame, 0);
	trap_fatal(frame, frame->tf_addr);
}

/* System calls of the fixture's user processes (run in kernel mode). */
struct kdap_job {
	int		kj_code;
	long		kj_args[4];
};

#define SYS_exit	1
#define SYS_wait4	7
#define SYS___sysctl	202

struct sysctl_args;
struct thread_exit_args;
int sys_sys_exit(struct thread *td, struct thread_exit_args *uap);
int sys_wait4(struct thread *td, int pid);
int sys___sysctl(struct thread *td, struct sysctl_args *uap);

struct kdap_job kdap_job_init = { SYS_wait4, { -1, 0, 0, 0 } };
struct kdap_job kdap_job_sh = { SYS_exit, { 0, 0, 0, 0 } };
static int kdap_sysctl_mib[4] = { 6, 0x3e8, 1, 0 };	/* debug.kdap.check */
struct kdap_job kdap_job_sysctl = { SYS___sysctl,
    { (long)kdap_sysctl_mib, 3, 0, 0 } };

static __noinline int
syscallenter(struct thread *td, struct kdap_job *job)
{
	td->td_sigblock_val = (uint32_t)job->kj_code;
	switch (job->kj_code) {
	case SYS_exit:
		return (sys_sys_exit(td, (struct thread_exit_args *)&job->kj_args[0]));
	case SYS_wait4:
		return (sys_wait4(td, (int)job->kj_args[0]));
	case SYS___sysctl:
		return (sys___sysctl(td, (struct sysctl_args *)job->kj_args));
	}
	return (78);
}

__noinline void
amd64_syscall(struct thread *td, struct kdap_job *job)
{
	int error;

	td->td_pticks = 0;
	error = syscallenter(td, job);
	td->td_errno = error;
}

__noinline void
kdap_user_start(void *arg)
{
	struct thread *td = curthread;

	if (td->td_proc == kdap_sysctl_proc) {
		/* syslogd has read everything logged so far. */
		msgbufp->msg_rseq = msgbufp->msg_wseq;
	}
	amd64_syscall(td, arg);
	panic("user process %d returned", td->td_proc->p_pid);
}
