/* The simulated second CPU and the stop IPI. */
#include "../../sys/kdap_kern.h"

struct pcb STOPPCBS_DECL;
cpuset_t stopped_cpus;
cpuset_t started_cpus;
cpuset_t all_cpus;
u_int mp_maxid = 1;
int mp_ncpus = 2;
int ipi_nmi_pending;

struct thread *sched_choose(void);

/*
 * Runs on "CPU 1": save the context into stoppcbs[], mark the CPU stopped
 * and leave without touching the thread's td_pcb, which keeps the context
 * of its previous sleep.
 */
__noinline void
cpustop_handler(void)
{
	struct thread *td = curthread;
	struct thread *next;
	u_int cpu = 1;

	STOP_SAVECTX(&stoppcbs[cpu]);
	__atomic_or_fetch(&stopped_cpus.__bits[0], 1L << cpu, __ATOMIC_SEQ_CST);
	td->td_oncpu = cpu;
	td->td_lastcpu = cpu;
	td->td_state = TDS_RUNNING;
	__pcpu[cpu].pc_curthread = td;
	__pcpu[cpu].pc_curpcb = td->td_pcb;

	/* CPU 0 carries on with the next runnable thread. */
	next = sched_choose();
	next->td_state = TDS_RUNNING;
	next->td_oncpu = 0;
	next->td_lastcpu = 0;
	__pcpu[0].pc_curthread = next;
	__pcpu[0].pc_curpcb = next->td_pcb;
	cpu_throw(td, next);
}

__noinline void
ipi_nmi_handler(void)
{
	ipi_nmi_pending |= 1 << 1;
	cpustop_handler();
}

#ifdef STOPPCBS_PTR
/*
 * FreeBSD 14.0 and later allocate stoppcbs at boot, one PCB per CPU up to
 * mp_maxid; here it comes from the small-page allocator, so it has a
 * direct-map address like other kernel malloc memory.
 */
void
cpu_mp_alloc_stoppcbs(void)
{
	stoppcbs = uma_small_alloc((mp_maxid + 1) * sizeof(struct pcb));
}
#endif
