/* The C half of a new thread's first return: see fork_trampoline. */
#include "../sys/kdap_kern.h"

int fork_exit_count;

void
fork_exit(void (*callout)(void *), void *arg, struct trapframe *frame)
{
	struct thread *td = curthread;

	td->td_frame = frame;
	td->td_state = TDS_RUNNING;
	fork_exit_count++;
	callout(arg);
	panic("kthread %d returned", td->td_tid);
}
