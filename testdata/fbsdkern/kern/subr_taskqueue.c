/* Task queues and their service threads. */
#include "../sys/kdap_kern.h"

struct task {
	int		ta_pending;
	void		(*ta_func)(void *, int);
	void		*ta_context;
};

struct taskqueue {
	const char	*tq_name;
	struct task	*tq_queue[4];
	int		tq_nqueued;
	int		tq_tcount;
	int		tq_callouts;
};

struct taskqueue taskqueue_thread_tq = { "thread taskq", { NULL }, 0, 0, 0 };
struct taskqueue taskqueue_firmware_tq = { "firmware taskq", { NULL }, 0, 0, 0 };

int firmware_unloads;

static __noinline void
firmware_unload_task(void *arg, int pending)
{
	struct taskqueue *tq = arg;

	firmware_unloads += pending;
	tq->tq_callouts++;
	/* Wait for consumers to drop their references before unloading. */
	pause_sbt("fwunload", (sbintime_t)hz << 32, 0, 0);
}

static struct task firmware_unload_ta = { 1, firmware_unload_task,
    &taskqueue_firmware_tq };

static __noinline void
taskqueue_run_locked(struct taskqueue *tq)
{
	while (tq->tq_nqueued > 0) {
		struct task *ta = tq->tq_queue[--tq->tq_nqueued];
		int pending = ta->ta_pending;

		ta->ta_pending = 0;
		ta->ta_func(ta->ta_context, pending);
	}
}

static __noinline void
taskqueue_wait_work(struct taskqueue *tq)
{
	tq->tq_callouts++;
	_sleep(tq, 0, "-", 0);
}

__noinline void
taskqueue_thread_loop(void *arg)
{
	struct taskqueue *tq = arg;

	tq->tq_tcount++;
	if (tq == &taskqueue_firmware_tq)
		tq->tq_queue[tq->tq_nqueued++] = &firmware_unload_ta;
	for (;;) {
		taskqueue_run_locked(tq);
		taskqueue_wait_work(tq);
	}
}
