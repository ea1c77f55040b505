/*
 * Processes and kernel threads: proc0/thread0, allproc, zombproc and the
 * creation of the fixture's processes and threads.
 */
#include "../sys/kdap_kern.h"

struct proclist allproc;
struct proclist zombproc;
struct proc proc0;
struct thread thread0;
struct pcpu __pcpu[MAXCPU];
struct pcpu *cpuid_to_pcpu[MAXCPU];
int nprocs;
struct mtx sched_lock = { { "sched lock", 0, 0, NULL }, 0 };

/* Offsets exported for debuggers, as FreeBSD's kern_proc.c does. */
const int proc_off_p_pid = offsetof(struct proc, p_pid);
const int proc_off_p_comm = offsetof(struct proc, p_comm);
const int proc_off_p_list = offsetof(struct proc, p_list);
const int proc_off_p_hash = offsetof(struct proc, p_hash);
const int proc_off_p_threads = offsetof(struct proc, p_threads);
const int thread_off_td_tid = offsetof(struct thread, td_tid);
const int thread_off_td_name = offsetof(struct thread, td_name);
const int thread_off_td_oncpu = offsetof(struct thread, td_oncpu);
const int thread_off_td_pcb = offsetof(struct thread, td_pcb);
const int thread_off_td_plist = offsetof(struct thread, td_plist);
const int thread_oncpu_size = sizeof(((struct thread *)0)->td_oncpu);

static lwpid_t tid_next = 100001;
extern char thread0_kstack[];
vm_offset_t kstack_alloc(void);

static void
thread_setup_stack(struct thread *td, vm_offset_t kstack)
{
	td->td_kstack = kstack;
	td->td_kstack_pages = KSTACK_PAGES;
	td->td_pcb = (struct pcb *)((kstack + KSTACK_PAGES * PAGE_SIZE -
	    sizeof(struct pcb)) & ~0x3fUL);
	td->td_frame = (struct trapframe *)(((vm_offset_t)td->td_pcb -
	    sizeof(struct trapframe)) & ~0xfUL);
	td->td_md.md_stack_base = (vm_offset_t)td->td_frame;
}

void
init_proc0(void)
{
	struct proc *p = &proc0;
	struct thread *td = &thread0;

	p->p_pid = 0;
	strlcpy(p->p_comm, "kernel", sizeof(p->p_comm));
	p->p_state = PRS_NORMAL;
	p->p_flag = P_SYSTEM | P_INMEM | P_KPROC;
	p->p_pptr = NULL;
	p->p_mtx.lock_object.lo_name = "process lock";
	TAILQ_INIT(&p->p_threads);
	LIST_INSERT_HEAD(&allproc, p, p_list);
	nprocs = 1;

	td->td_tid = 100000;
	strlcpy(td->td_name, "swapper", sizeof(td->td_name));
	td->td_proc = p;
	td->td_lock = &sched_lock;
	td->td_state = TDS_RUNNING;
	td->td_flags = TDF_INMEM;
	td->td_pflags = TDP_KTHREAD;
	td->td_priority = 84;
	td->td_base_pri = 84;
	td->td_oncpu = 0;
	td->td_lastcpu = 0;
	thread_setup_stack(td, (vm_offset_t)thread0_kstack);
	TAILQ_INSERT_TAIL(&p->p_threads, td, td_plist);
	p->p_numthreads = 1;

	__pcpu[0].pc_curthread = td;
	__pcpu[0].pc_curpcb = td->td_pcb;
}

struct thread *
thread_alloc(void)
{
	struct thread *td;

	td = uma_small_alloc(sizeof(*td));
	td->td_oncpu = NOCPU;
	td->td_lastcpu = NOCPU;
	td->td_lock = &sched_lock;
	return (td);
}

struct proc *
proc_create(pid_t pid, const char *comm, int flags)
{
	struct proc *p;

	p = uma_small_alloc(sizeof(*p));
	p->p_pid = pid;
	strlcpy(p->p_comm, comm, sizeof(p->p_comm));
	TAILQ_INIT(&p->p_threads);
	p->p_state = PRS_NORMAL;
	p->p_flag = flags | P_INMEM;
	p->p_pptr = &proc0;
	p->p_mtx.lock_object.lo_name = "process lock";
	LIST_INSERT_HEAD(&proc0.p_children, p, p_sibling);
	LIST_INSERT_HEAD(&allproc, p, p_list);
	nprocs++;
	return (p);
}

struct thread *
kthread_create(struct proc *p, const char *name, void (*func)(void *),
    void *arg)
{
	struct thread *td;
	struct pcb *pcb;

	td = thread_alloc();
	td->td_tid = tid_next++;
	strlcpy(td->td_name, name, sizeof(td->td_name));
	td->td_proc = p;
	td->td_flags = TDF_INMEM;
	td->td_pflags = (p->p_flag & P_KPROC) ? TDP_KTHREAD : 0;
	td->td_priority = 100 + (td->td_tid % 50);
	td->td_base_pri = td->td_priority;
	td->td_start_func = func;
	td->td_start_arg = arg;
	thread_setup_stack(td, kstack_alloc());
	pcb = td->td_pcb;
	pcb->pcb_rip = (register_t)fork_trampoline;
	pcb->pcb_rsp = (register_t)td->td_frame - sizeof(void *);
	pcb->pcb_r12 = (register_t)func;
	pcb->pcb_rbx = (register_t)arg;
	pcb->pcb_rbp = 0;
	pcb->pcb_cr3 = KPML4phys;
	TAILQ_INSERT_TAIL(&p->p_threads, td, td_plist);
	p->p_numthreads++;
	sched_add(td, 0);
	return (td);
}
