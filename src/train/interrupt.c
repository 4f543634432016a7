/* interrupt.c - SIGINT and SIGTERM as a polled stop request (see include/attncast/interrupt.h).
 * The handler touches only a sig_atomic_t and async-signal-safe calls (write, signal, raise). */
#include "attncast/interrupt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_signal; /* the first stop signal received, else 0 */

static void write_note(const char *text) {
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

static void on_stop_signal(int sig) {
    if (g_signal) { /* asked twice: stop at once */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_signal = sig;
    write_note(sig == SIGINT ? "\nattncast: SIGINT received; stopping after this step and saving "
                               "a checkpoint (again to stop at once)\n"
                             : "\nattncast: SIGTERM received; stopping after this step and "
                               "saving a checkpoint (again to stop at once)\n");
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
