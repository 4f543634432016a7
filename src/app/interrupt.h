/* interrupt.h - asking a long job to stop at a safe point, on SIGINT or SIGTERM (application
 * layer: a library installs no signal handler, so this lives in src/app).
 *
 * A handler may do almost nothing safely, so the one ac_interrupt_catch installs only records
 * the signal (and writes a fixed one-line note to stderr with write(2)); the job polls
 * ac_interrupt_signal() where it can stop cleanly, e.g. after a training step, saves its state
 * and exits with 128 + the signal. A second SIGINT or SIGTERM a second or more after the first
 * restores the default action and re-raises it, so pressing Ctrl-C again stops at once (one
 * within the second is the same request arriving twice, as from a terminal and a sweep). The
 * recorded signal is the program's one piece of global state besides the thread count.
 */
#ifndef ATTNCAST_INTERRUPT_H
#define ATTNCAST_INTERRUPT_H

/* Installs the handler for SIGINT and SIGTERM (SA_RESTART, so blocking calls go on). */
void ac_interrupt_catch(void);
/* What the handler writes after "attncast: SIGINT received; " (a string that outlives the
 * handler; the default speaks of saving a checkpoint); NULL: the handler writes nothing (a worker
 * process whose parent reports the stop). */
void ac_interrupt_set_note(const char *note);
/* Puts back the default action for both signals; a recorded signal is kept. */
void ac_interrupt_release(void);
/* The first SIGINT or SIGTERM received since ac_interrupt_catch, else 0. */
int ac_interrupt_signal(void);
/* "SIGINT", "SIGTERM", else "signal". */
const char *ac_interrupt_signal_name(int sig);

#endif
