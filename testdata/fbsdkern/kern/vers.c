/* Version strings (FreeBSD generates these into vers.c at build time). */
#define VERSTR "FreeBSD 14.1-RELEASE kdap-fixture #0: Tue Nov 14 22:13:20 UTC 2023\n" \
	"    kdap@fixture:/usr/obj/usr/src/amd64.amd64/sys/KDAPTEST amd64\n"

char version[] = VERSTR;
char compiler_version[] = "FreeBSD clang version 18.1.5";
char ostype[] = "FreeBSD";
char osrelease[] = "14.1-RELEASE";
int osreldate = 1401000;
char kern_ident[] = "KDAPTEST";
