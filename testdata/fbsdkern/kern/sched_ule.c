/* A cooperative, deterministic scheduler with FreeBSD's entry points. */
#include "../sys/kdap_kern.h"

static TAILQ_HEAD(rqhead, thread) runq = { NULL, &runq.tqh_first };
volatile int ticks;
int hz = 1000;
int sched_switches;

void
sched_add(struct thread *td, int head)
{
	td->td_state = TDS_RUNQ;
	if (head)
		TAILQ_INSERT_HEAD(&runq, td, td_runq);
	else
		TAILQ_INSERT_TAIL(&runq, td, td_runq);
}

struct thread *
sched_choose(void)
{
	struct thread *td = TAILQ_FIRST(&runq);

	if (td == NULL) {
		cnputs("sched_choose: no runnable thread\n");
		cpu_halt();
	}
	TAILQ_REMOVE(&runq, td, td_runq);
	return (td);
}

static void
sched_setcpu(struct thread *newtd)
{
	newtd->td_state = TDS_RUNNING;
	newtd->td_oncpu = 0;
	newtd->td_lastcpu = 0;
	__pcpu[0].pc_curthread = newtd;
	__pcpu[0].pc_curpcb = newtd->td_pcb;
	__pcpu[0].pc_switchticks = ticks;
	__pcpu[0].pc_switchtime += 1000000;
}

__noinline void
sched_switch(struct thread *td, int flags)
{
	struct thread *newtd;

	newtd = sched_choose();
	td->td_lastcpu = td->td_oncpu;
	td->td_oncpu = NOCPU;
	if (td->td_state == TDS_RUNNING)
		td->td_state = TDS_CAN_RUN;
	td->td_swvoltick = ticks + (flags & 0xff);
	sched_switches++;
	sched_setcpu(newtd);
	cpu_switch(td, newtd, td->td_lock);
	td->td_rqindex = (u_char)(sched_switches & 0x3f);
}

/*
 * Leaves an exiting thread for good.  Unlike FreeBSD's sched_throw(),
 * which saves nothing, this saves the thread's context into its pcb so
 * that the zombie's last thread has a meaningful stack.
 */
__noinline void
sched_throw(struct thread *td)
{
	struct thread *newtd;

	newtd = sched_choose();
	td->td_lastcpu = td->td_oncpu;
	td->td_oncpu = NOCPU;
	td->td_state = TDS_INACTIVE;
	sched_switches++;
	sched_setcpu(newtd);
	cpu_switch(td, newtd, td->td_lock);
	panic("sched_throw: dead thread %d resumed", td->td_tid);
}

__noinline void
sched_idletd(void *arg)
{
	struct thread *td = curthread;
	long cpu = (long)arg;
	int busy = 0;

	td->td_flags |= TDF_IDLETD;
	__pcpu[cpu].pc_idlethread = td;
	for (;;) {
		void cpu_idle(int busy);

		cpu_idle(busy);
		busy = !busy;
	}
}
