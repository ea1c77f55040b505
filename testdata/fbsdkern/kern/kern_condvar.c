/* Condition variables (timed wait only). */
#include "../sys/kdap_kern.h"

struct cv {
	const char	*cv_description;
	int		cv_waiters;
};

void sleepq_add(const void *wchan, const char *wmesg);
void sleepq_timedwait(const void *wchan, int pri);

__noinline int
_cv_timedwait_sbt(struct cv *cvp, struct mtx *lock, sbintime_t sbt,
    sbintime_t pr, int flags)
{
	cvp->cv_waiters++;
	if (lock != NULL)
		lock->mtx_lock = 0;
	sleepq_add(cvp, cvp->cv_description);
	sleepq_timedwait(cvp, flags + (int)(sbt >> 32) + (int)pr);
	cvp->cv_waiters--;
	return (0);
}
