/*
 * Console output, printf and the kernel message buffer.
 */
#include "../sys/kdap_kern.h"

struct msgbuf *msgbufp;

static inline void
outb(int port, u_char v)
{
	__asm__ volatile("outb %0, %w1" :: "a"(v), "Nd"(port));
}

void *
memset(void *d, int c, size_t n)
{
	u_char *p = d;

	while (n-- > 0)
		*p++ = (u_char)c;
	return (d);
}

void *
memcpy(void *d, const void *s, size_t n)
{
	u_char *dp = d;
	const u_char *sp = s;

	while (n-- > 0)
		*dp++ = *sp++;
	return (d);
}

size_t
strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return (n);
}

int
strcmp(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return ((u_char)*a - (u_char)*b);
}

int
strncmp(const char *a, const char *b, size_t n)
{
	for (; n > 0; n--, a++, b++) {
		if (*a != *b)
			return ((u_char)*a - (u_char)*b);
		if (*a == '\0')
			break;
	}
	return (0);
}

char *
strstr(const char *h, const char *n)
{
	size_t ln = strlen(n);

	for (; *h != '\0'; h++)
		if (strncmp(h, n, ln) == 0)
			return ((char *)h);
	return (NULL);
}

size_t
strlcpy(char *d, const char *s, size_t n)
{
	size_t len = strlen(s);

	if (n > 0) {
		size_t c = len < n - 1 ? len : n - 1;
		memcpy(d, s, c);
		d[c] = '\0';
	}
	return (len);
}

/* COM1, polled. */
static void
cnputc(int c)
{
	if (c == '\n')
		outb(0x3f8, '\r');
	outb(0x3f8, (u_char)c);
}

void
cnputs(const char *s)
{
	while (*s != '\0')
		cnputc(*s++);
}

#define MSGBUF_SEQNORM(mbp, seq) \
	(((seq) + (mbp)->msg_seqmod) % (mbp)->msg_seqmod)
#define MSGBUF_SEQ_TO_POS(mbp, seq) ((seq) % (mbp)->msg_size)
#define MSGBUF_SEQSUB(mbp, seq1, seq2) \
	(MSGBUF_SEQNORM((mbp), (seq1) - (seq2)))

static struct msgbuf msgbuf_hdr;

void
msgbufinit(void *ptr, int size)
{
	msgbufp = &msgbuf_hdr;
	msgbufp->msg_ptr = ptr;
	msgbufp->msg_size = size;
	msgbufp->msg_seqmod = 16 * size;
	msgbufp->msg_magic = MSG_MAGIC;
	msgbufp->msg_wseq = 0;
	msgbufp->msg_rseq = 0;
	msgbufp->msg_cksum = 0;
	msgbufp->msg_lastpri = -1;
	msgbufp->msg_flags = 0;
	msgbufp->msg_lock.lock_object.lo_name = "msgbuf";
	memset(ptr, 0, size);
}

static void
msgbuf_addchar(struct msgbuf *mbp, int c)
{
	u_int pos = MSGBUF_SEQ_TO_POS(mbp, mbp->msg_wseq);

	mbp->msg_cksum += (u_int)(u_char)c - (u_int)(u_char)mbp->msg_ptr[pos];
	mbp->msg_ptr[pos] = (char)c;
	mbp->msg_wseq = MSGBUF_SEQNORM(mbp, mbp->msg_wseq + 1);
	/* A reader that fell more than a buffer behind loses the oldest. */
	if (MSGBUF_SEQSUB(mbp, mbp->msg_wseq, mbp->msg_rseq) > mbp->msg_size)
		mbp->msg_rseq = MSGBUF_SEQNORM(mbp,
		    mbp->msg_wseq - mbp->msg_size);
}

static void
putchar_all(int c)
{
	cnputc(c);
	if (msgbufp != NULL && msgbufp->msg_ptr != NULL)
		msgbuf_addchar(msgbufp, c);
}

struct snbuf {
	char	*buf;
	size_t	size;
	size_t	len;
};

static void
sn_put(struct snbuf *sb, int c)
{
	if (sb->len + 1 < sb->size)
		sb->buf[sb->len] = (char)c;
	sb->len++;
}

static void
sn_num(struct snbuf *sb, unsigned long v, int base, int upper, int width,
    int zero, int left, int neg)
{
	char tmp[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0, pad;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v != 0);
	if (neg)
		tmp[n++] = '-';
	pad = width - n;
	if (!left && !zero)
		for (; pad > 0; pad--)
			sn_put(sb, ' ');
	if (zero && !left) {
		if (neg) {
			sn_put(sb, '-');
			n--;
		}
		for (; pad > 0; pad--)
			sn_put(sb, '0');
	}
	while (n > 0)
		sn_put(sb, tmp[--n]);
	if (left)
		for (; pad > 0; pad--)
			sn_put(sb, ' ');
}

int
vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct snbuf sb = { buf, size, 0 };
	const char *s;
	unsigned long u;
	long v;
	int width, zero, left, lng, prec;

	for (; *fmt != '\0'; fmt++) {
		if (*fmt != '%') {
			sn_put(&sb, *fmt);
			continue;
		}
		fmt++;
		zero = left = lng = 0;
		width = 0;
		prec = -1;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = 1;
			else if (*fmt == '-')
				left = 1;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			while (*fmt >= '0' && *fmt <= '9')
				prec = prec * 10 + (*fmt++ - '0');
		}
		while (*fmt == 'l' || *fmt == 'j' || *fmt == 'z' || *fmt == 'q') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			v = lng ? va_arg(ap, long) : va_arg(ap, int);
			sn_num(&sb, v < 0 ? -(unsigned long)v : (unsigned long)v,
			    10, 0, width, zero, left, v < 0);
			break;
		case 'u':
			u = lng ? va_arg(ap, unsigned long) : va_arg(ap, u_int);
			sn_num(&sb, u, 10, 0, width, zero, left, 0);
			break;
		case 'x':
		case 'X':
			u = lng ? va_arg(ap, unsigned long) : va_arg(ap, u_int);
			sn_num(&sb, u, 16, *fmt == 'X', width, zero, left, 0);
			break;
		case 'p':
			u = (unsigned long)va_arg(ap, void *);
			sn_put(&sb, '0');
			sn_put(&sb, 'x');
			sn_num(&sb, u, 16, 0, width, zero, left, 0);
			break;
		case 'c':
			sn_put(&sb, va_arg(ap, int));
			break;
		case 's':
			s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			{
				int len = 0, pad;
				while (s[len] != '\0' && (prec < 0 || len < prec))
					len++;
				pad = width - len;
				if (!left)
					for (; pad > 0; pad--)
						sn_put(&sb, ' ');
				for (int i = 0; i < len; i++)
					sn_put(&sb, s[i]);
				if (left)
					for (; pad > 0; pad--)
						sn_put(&sb, ' ');
			}
			break;
		case '%':
			sn_put(&sb, '%');
			break;
		default:
			sn_put(&sb, '%');
			sn_put(&sb, *fmt);
			break;
		}
	}
	if (size > 0)
		buf[sb.len < size ? sb.len : size - 1] = '\0';
	return ((int)sb.len);
}

int
snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return (r);
}

int
vprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int r, i;

	r = vsnprintf(buf, sizeof(buf), fmt, ap);
	for (i = 0; buf[i] != '\0'; i++)
		putchar_all(buf[i]);
	return (r);
}

int
printf(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vprintf(fmt, ap);
	va_end(ap);
	return (r);
}
