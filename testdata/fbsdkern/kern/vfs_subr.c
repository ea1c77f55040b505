/* The syncer.  In the fixture it also wakes the entropy thread. */
#include "../sys/kdap_kern.h"

struct cv {
	const char	*cv_description;
	int		cv_waiters;
};

int _cv_timedwait_sbt(struct cv *cvp, struct mtx *lock, sbintime_t sbt,
    sbintime_t pr, int flags);

static struct cv sync_wakeup = { "syncer", 0 };
static struct mtx sync_mtx = { { "Syncer mtx", 0, 0, NULL }, 0 };
static int syncer_delayno;
int syncer_worklist_len;

static __noinline int
sync_vnode_list(int slot)
{
	syncer_worklist_len += slot;
	/* Feed the entropy pool: wake up the harvesting thread. */
	wakeup(&kdap_random_chan);
	return (syncer_worklist_len);
}

static __noinline void
syncer_wait(void)
{
	_cv_timedwait_sbt(&sync_wakeup, &sync_mtx, (sbintime_t)hz << 32, 0, 0);
}

__noinline void
sched_sync(void *arg)
{
	(void)arg;
	for (;;) {
		syncer_delayno = (syncer_delayno + 1) % 32;
		sync_vnode_list(syncer_delayno);
		syncer_wait();
	}
}
