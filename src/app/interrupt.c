/* interrupt.c - SIGINT and SIGTERM as a polled stop request (see src/app/interrupt.h).
 * The handler touches only a sig_atomic_t and async-signal-safe calls (write, signal, raise). */
#include "app/interrupt.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_signal; /* the first stop signal received, else 0 */
static struct timespec g_first;        /* when it came (read and written by the handler only) */
/* What the handler says the job does next; NULL: it says nothing. */
static const char *volatile g_note =
    "stopping after this step and saving a checkpoint (again to stop at once)";

/* A signal that follows the first within this long is the same request arriving twice, e.g.
 * Ctrl-C reaching a sweep's trainer both from the terminal and through the sweep. */
#define SAME_REQUEST_SECONDS 1.0

static void write_note(const char *text) {
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

static void on_stop_signal(int sig) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe */
    if (g_signal) {
        double since =
            (double)(now.tv_sec - g_first.tv_sec) + 1e-9 * (now.tv_nsec - g_first.tv_nsec);
        if (since < SAME_REQUEST_SECONDS) return;
        signal(sig, SIG_DFL); /* asked again: stop at once */
        raise(sig);
        return;
    }
    g_first = now;
    g_signal = sig;
    const char *note = g_note;
    if (!note) return;
    write_note(sig == SIGINT ? "\nattncast: SIGINT received; " : "\nattncast: SIGTERM received; ");
    write_note(note);
    write_note("\n");
}

void ac_interrupt_set_note(const char *note) {
    g_note = note;
}

void ac_interrupt_catch(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void ac_interrupt_release(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

int ac_interrupt_signal(void) {
    return g_signal;
}

const char *ac_interrupt_signal_name(int sig) {
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
}
