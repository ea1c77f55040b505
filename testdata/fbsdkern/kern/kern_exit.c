/* Process exit and wait. */
#include "../sys/kdap_kern.h"

struct thread_exit_args { int rval; };

static __noinline void
thread_exit(void)
{
	struct thread *td = curthread;
	struct proc *p = td->td_proc;

	/* The last thread stays on p_threads, as in FreeBSD's zombies. */
	p->p_flag |= P_WEXIT;
	sched_throw(td);
}

__noinline void
exit1(struct thread *td, int rval, int signo)
{
	struct proc *p = td->td_proc;

	p->p_xexit = rval;
	p->p_xsig = signo;
	LIST_REMOVE(p, p_list);
	LIST_INSERT_HEAD(&zombproc, p, p_list);
	p->p_state = PRS_ZOMBIE;
	if (p->p_pptr != NULL)
		wakeup(p->p_pptr);
	thread_exit();
}

__noinline int
sys_sys_exit(struct thread *td, struct thread_exit_args *uap)
{
	exit1(td, uap->rval << 8, 0);
	return (0);
}

__noinline int
kern_wait6(struct thread *td, int idtype, int id, int *status, int options)
{
	struct proc *p = td->td_proc;

	td->td_uretoff.tdu_retval[0] = id;
	*status = idtype + id;
	_sleep(p, options, "wait", 0);
	return (0);
}

__noinline int
sys_wait4(struct thread *td, int pid)
{
	int status = 0;

	return (kern_wait6(td, 0, pid, &status, 0) + status);
}
