/* sysctl structures (abridged from FreeBSD's sys/sys/sysctl.h). */
#ifndef _KDAP_SYSCTL_H_
#define _KDAP_SYSCTL_H_

typedef long intmax_t;

#define CTLTYPE_NODE	1
#define CTLTYPE_INT	2

struct sysctl_req {
	struct thread	*td;
	int		lock;
	void		*oldptr;
	size_t		oldlen;
	size_t		oldidx;
	int		(*oldfunc)(struct sysctl_req *, const void *, size_t);
	const void	*newptr;
	size_t		newlen;
	size_t		newidx;
	int		(*newfunc)(struct sysctl_req *, void *, size_t);
	size_t		validlen;
	int		flags;
};

struct sysctl_oid {
	int		oid_number;
	u_int		oid_kind;
	void		*oid_arg1;
	intmax_t	oid_arg2;
	const char	*oid_name;
	int		(*oid_handler)(struct sysctl_oid *oidp, void *arg1,
			    intmax_t arg2, struct sysctl_req *req);
	const char	*oid_fmt;
	const char	*oid_descr;
};

struct sysctl_args {
	int		*name;
	u_int		namelen;
	void		*old;
	size_t		*oldlenp;
	const void	*new;
	size_t		newlen;
};

#endif
