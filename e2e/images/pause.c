/*
 * The pod sandbox's pause process for the e2e node (containerd's sandbox_image): it holds the pod's
 * namespaces open, reaps any zombie that ends up re-parented to it (it is PID 1 of the pod when the
 * PID namespace is shared), and exits 0 on SIGINT/SIGTERM so a pod stops at once.
 * Built by build-images.sh with `gcc -static -O2`, into an image FROM scratch (pause.Dockerfile).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  int saved = errno; /* waitpid may clobber errno of whatever pause() was doing */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static void handle(int sig, void (*fn)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) < 0) {
    perror("pause: sigaction");
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    printf("pause (chaperone e2e)\n");
    return 0;
  }
  /* The kubelet's pause image warns when it is not PID 1; so does this one, and carries on. */
  if (getpid() != 1) fprintf(stderr, "pause: warning: not PID 1\n");
  handle(SIGINT, on_stop, 0);
  handle(SIGTERM, on_stop, 0);
  /* SA_NOCLDSTOP: stopped children are not zombies, only exits need reaping. */
  handle(SIGCHLD, on_child, SA_NOCLDSTOP | SA_RESTART);
  for (;;) pause();
  return 42; /* not reached */
}
