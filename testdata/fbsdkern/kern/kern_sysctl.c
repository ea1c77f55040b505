/* A small sysctl tree and the __sysctl(2) path into it. */
#include "../sys/kdap_kern.h"
#include "../sys/kdap_sysctl.h"

extern int sysctl_kdap_handler(struct sysctl_oid *oidp, void *arg1,
    intmax_t arg2, struct sysctl_req *req);

static int kdap_check_arg = 0x6b646170;
static struct sysctl_oid sysctl_oids[] = {
	{ 1, CTLTYPE_NODE, NULL, 0, "kern", NULL, "N", "High kernel" },
	{ 6, CTLTYPE_NODE, NULL, 0, "debug", NULL, "N", "Debugging" },
	{ 0x3e8, CTLTYPE_INT, &kdap_check_arg, 3, "debug.kdap.check",
	    sysctl_kdap_handler, "I", "Check the kdap fixture's threads" },
};

__noinline int
sysctl_root(struct sysctl_oid *oidp, void *arg1, intmax_t arg2,
    struct sysctl_req *req)
{
	int *name = arg1;
	u_int i;

	(void)oidp;
	for (i = 0; i < nitems(sysctl_oids); i++) {
		struct sysctl_oid *oid = &sysctl_oids[i];

		if (arg2 > 1 && oid->oid_number == name[1] &&
		    oid->oid_handler != NULL) {
			req->lock = 1;
			return (oid->oid_handler(oid, oid->oid_arg1,
			    oid->oid_arg2, req));
		}
	}
	return (2);	/* ENOENT */
}

__noinline int
userland_sysctl(struct thread *td, int *name, u_int namelen, void *old,
    size_t *oldlenp, const void *new, size_t newlen, size_t *retval)
{
	struct sysctl_req req;
	int error;

	memset(&req, 0, sizeof(req));
	req.td = td;
	req.oldptr = old;
	req.oldlen = oldlenp != NULL ? *oldlenp : 0;
	req.newptr = new;
	req.newlen = newlen;
	error = sysctl_root(NULL, name, namelen, &req);
	if (retval != NULL)
		*retval = req.oldidx;
	return (error);
}

__noinline int
sys___sysctl(struct thread *td, struct sysctl_args *uap)
{
	size_t j = 0;
	int error;

	error = userland_sysctl(td, uap->name, uap->namelen, uap->old,
	    uap->oldlenp, uap->new, uap->newlen, &j);
	td->td_uretoff.tdu_retval[0] = (register_t)j;
	return (error);
}
