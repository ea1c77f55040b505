#!/usr/bin/env python3
"""Print the expected call chains of the fixture threads as Markdown.

The chains are written down by hand from the kernel source; this script
only looks up, in the source files, the file of each function and the line
of each call site (the first line inside the function's body that contains
the callee's call text), so the README's line numbers follow the source.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = [os.path.join(dp, f)[len(ROOT) + 1:]
       for dp, _, fs in os.walk(ROOT) if '/build' not in dp + '/'
       and '/fixtures' not in dp + '/' and '/tools' not in dp + '/'
       for f in fs if f.endswith(('.c', '.S'))]


def find_def(func):
    for path in sorted(SRC):
        lines = open(os.path.join(ROOT, path)).read().split('\n')
        for i, l in enumerate(lines):
            if path.endswith('.c') and re.match(r'^%s\(' % re.escape(func), l):
                return path, lines, i
            if path.endswith('.S') and l.strip() == '%s:' % func:
                return path, lines, i
    raise SystemExit('no definition of %s' % func)


def call_line(func, needle):
    path, lines, i = find_def(func)
    for j in range(i + 1 if path.endswith(".c") else i, len(lines)):
        if needle in lines[j]:
            return path, j + 1
        if path.endswith('.c') and j > i and lines[j] == '}':
            break
    raise SystemExit('no %r in %s' % (needle, func))


def chain(frames):
    """frames: innermost first, (function, call-text, note)."""
    out = []
    for n, (func, needle, note) in enumerate(frames):
        path, line = call_line(func, needle)
        out.append('| %d | `%s`%s | /usr/src/sys/%s | %d | %s |' % (
            n, func, ' [inlined]' if 'inlined' in note else '', path, line,
            note))
    return '\n'.join(['| # | function | file | line | at |',
                      '|---|---|---|---|---|'] + out)


TAIL_WAIT = [('sched_switch', 'cpu_switch(', 'call cpu_switch (pcb_rip)'),
             ('mi_switch', 'sched_switch(', 'call sched_switch'),
             ('sleepq_switch', 'mi_switch(', 'call mi_switch'),
             ('sleepq_wait', 'sleepq_switch(', 'call sleepq_switch'),
             ('_sleep', 'sleepq_wait(', 'call sleepq_wait')]
TAIL_TIMED = TAIL_WAIT[:3] + [
    ('sleepq_timedwait', 'sleepq_switch(', 'call sleepq_switch'),
    ('_sleep', 'sleepq_timedwait(', 'call sleepq_timedwait')]
FORK = [('fork_exit', 'callout(arg)', 'call through callout'),
        ('fork_trampoline', 'call\tfork_exit', 'call fork_exit; end of chain')]
USER = [('syscallenter', None, ''), ('amd64_syscall', 'syscallenter(', 'call syscallenter'),
        ('kdap_user_start', 'amd64_syscall(', 'call amd64_syscall')] + FORK

def user(sys_call):
    return [('syscallenter', sys_call + '(', 'call ' + sys_call)] + USER[1:]

CHAINS = [
    ('100000 swapper (pid 0), td_pcb', TAIL_TIMED + [
        ('swapper', '_sleep(', 'call _sleep'),
        ('mi_startup', 'swapper(', 'call swapper'),
        ('btext', 'call\tmi_startup', 'call mi_startup; end of chain')]),
    ('100001 thread taskq (pid 0), td_pcb', TAIL_WAIT + [
        ('taskqueue_wait_work', '_sleep(', 'call _sleep'),
        ('taskqueue_thread_loop', 'taskqueue_wait_work(', 'call')] + FORK),
    ('100002 firmware taskq (pid 0), td_pcb', TAIL_TIMED + [
        ('pause_sbt', '_sleep(', 'call _sleep'),
        ('firmware_unload_task', 'pause_sbt(', 'call pause_sbt'),
        ('taskqueue_run_locked', 'ta->ta_func(', 'indirect call'),
        ('taskqueue_thread_loop', 'taskqueue_run_locked(', 'call')] + FORK),
    ('100003 idle: cpu0 (pid 11), td_pcb', TAIL_WAIT[:2] + [
        ('cpu_idle_hlt', 'mi_switch(', 'call mi_switch'),
        ('cpu_idle', 'cpu_idle_hlt(', 'call'),
        ('sched_idletd', 'cpu_idle(busy)', 'call cpu_idle')] + FORK),
    ('100004 idle: cpu1 (pid 11), td_pcb', TAIL_WAIT[:2] + [
        ('cpu_idle_mwait', 'mi_switch(', 'call mi_switch'),
        ('cpu_idle', 'cpu_idle_mwait(', 'call'),
        ('sched_idletd', 'cpu_idle(busy)', 'call cpu_idle')] + FORK),
    ('100005 swi4: clock (0) (pid 12), td_pcb', TAIL_WAIT[:2] + [
        ('ithread_loop', 'mi_switch(', 'call mi_switch')] + FORK),
    ('100006 swi1: netisr 0 (pid 12), td_pcb', TAIL_WAIT + [
        ('netisr_wait_work', '_sleep(', 'call _sleep'),
        ('netisr_process_workstream', 'netisr_wait_work(', 'call'),
        ('swi_net', 'netisr_process_workstream(', 'call'),
        ('ithread_execute_handlers', 'ie->ie_handler(', 'indirect call'),
        ('ithread_loop', 'ithread_execute_handlers(', 'call')] + FORK),
    ('100007 rand_harvestq (pid 15), stoppcbs[1] (what a debugger must show)', [
        ('cpustop_handler', 'savectx(', 'call savectx (stoppcbs[1].pcb_rip)'),
        ('ipi_nmi_handler', 'cpustop_handler(', 'call'),
        ('random_fortuna_process_event', 'ipi_nmi_handler(', 'call'),
        ('random_sources_feed', 'random_fortuna_process_event(', 'call'),
        ('random_kthread', 'random_sources_feed(', 'call')] + FORK),
    ('100007 rand_harvestq (pid 15), its stale td_pcb (must NOT be shown)', TAIL_TIMED + [
        ('random_harvestq_wait', '_sleep(', 'call _sleep'),
        ('random_kthread', 'random_harvestq_wait(', 'call')] + FORK),
    ('100008 dom0 (pid 18), td_pcb', TAIL_TIMED + [
        ('vm_pageout_wait', '_sleep(', 'call _sleep'),
        ('vm_pageout_worker', 'vm_pageout_wait(', 'call'),
        ('vm_pageout', 'vm_pageout_worker(', 'call')] + FORK),
    ('100009 laundry: dom0 (pid 18), td_pcb', TAIL_WAIT + [
        ('vm_pageout_laundry_sleep', '_sleep(', 'call _sleep'),
        ('vm_pageout_launder', 'vm_pageout_laundry_sleep(', 'call'),
        ('vm_pageout_laundry_worker', 'vm_pageout_launder(', 'call')] + FORK),
    ('100010 uma (pid 18), td_pcb', TAIL_WAIT + [
        ('uma_reclaim_wait', '_sleep(', 'call _sleep'),
        ('uma_reclaim', 'uma_reclaim_wait(', 'call'),
        ('uma_reclaim_worker', 'uma_reclaim(', 'call')] + FORK),
    ('100011 bufdaemon (pid 19), td_pcb', TAIL_TIMED + [
        ('bd_sleep', '_sleep(', 'call _sleep'),
        ('flushbufqueues', 'bd_sleep(', 'call'),
        ('buf_daemon_process', 'flushbufqueues(', 'call'),
        ('buf_daemon', 'buf_daemon_process(', 'call')] + FORK),
    ('100012 bufspacedaemon-0 (pid 19), td_pcb', TAIL_WAIT + [
        ('bufspace_daemon_wait', '_sleep(', 'call _sleep'),
        ('buf_daemon_shutdown_space', 'bufspace_daemon_wait(', 'call')] + FORK),
    ('100013 syncer (pid 22), td_pcb', TAIL_WAIT[:3] + [
        ('sleepq_timedwait', 'sleepq_switch(', 'call sleepq_switch'),
        ('_cv_timedwait_sbt', 'sleepq_timedwait(', 'call'),
        ('syncer_wait', '_cv_timedwait_sbt(', 'call'),
        ('sched_sync', 'syncer_wait(', 'call')] + FORK),
    ('100014 init (pid 1), td_pcb', TAIL_WAIT + [
        ('kern_wait6', '_sleep(', 'call _sleep'),
        ('sys_wait4', 'kern_wait6(', 'call')] + user('sys_wait4')),
    ('100015 sh (pid 807, zombie), td_pcb', [
        ('sched_throw', 'cpu_switch(', 'call cpu_switch (pcb_rip)'),
        ('thread_exit', 'sched_throw(', 'call'),
        ('exit1', 'thread_exit(', 'call'),
        ('sys_sys_exit', 'exit1(', 'call')] + user('sys_sys_exit')),
]

CRASH_TOP = [('doadump', 'savectx(', 'call savectx (dumppcb.pcb_rip)'),
             ('kern_reboot', 'doadump(', 'call'),
             ('vpanic', 'kern_reboot(', 'call'),
             ('panic', 'vpanic(', 'call')]
CRASH_BOTTOM = [
    ('sysctl_kdap_handler', 'kdap_check_thread(', 'call'),
    ('sysctl_root', 'oid->oid_handler(', 'indirect call'),
    ('userland_sysctl', 'sysctl_root(', 'call'),
    ('sys___sysctl', 'userland_sysctl(', 'call')] + user('sys___sysctl')

CRASH = [
    ('100016 sysctl (pid 806), assert runs, dumppcb', CRASH_TOP + [
        ('kdap_thread_name_ok', 'MPASS(', 'inlined; MPASS expands to the panic call'),
        ('kdap_check_thread', 'kdap_thread_name_ok(', 'call site of the inlined function')]
     + CRASH_BOTTOM),
    ('100016 sysctl (pid 806), trap runs, dumppcb', CRASH_TOP + [
        ('trap_fatal', 'panic(', 'call'),
        ('trap_pfault', 'trap_fatal(', 'call'),
        ('trap', 'trap_pfault(', 'call'),
        ('calltrap', 'call\ttrap', 'trap frame at %rsp (symbol calltrap, inside Xpage)'),
        ('kdap_read_cookie', 'kb->kb_cookie', 'faulting instruction (tf_rip)'),
        ('kdap_check_thread', 'kdap_read_cookie(', 'call')] + CRASH_BOTTOM),
]

if __name__ == '__main__':
    for title, frames in CHAINS + CRASH:
        print('#### %s\n' % title)
        print(chain(frames))
        print()
