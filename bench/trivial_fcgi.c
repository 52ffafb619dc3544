/* trivial_fcgi: the floor of bench/catalogue.sh. A libfcgi responder that
 * answers every request with a short fixed page, on the same terms as the
 * shop's app: a unix socket behind the same nginx, THREADS workers each
 * looping on FCGX_Accept_r. Whatever the shop costs above this is its own.
 *
 *   trivial_fcgi SOCKET [THREADS]      (stops on SIGTERM/SIGINT)
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int sock_fd = -1;

static const char ANSWER[] = "Status: 200 OK\r\n"
                             "Content-Type: text/html; charset=utf-8\r\n"
                             "\r\n"
                             "<!doctype html><title>trivial</title><p>ok</p>\n";

static void *worker(void *arg)
{
    (void)arg;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, sock_fd, 0) != 0)
        return NULL;
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(ANSWER, (int)sizeof ANSWER - 1, req.out);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SOCKET [THREADS]\n", argv[0]);
        return 2;
    }
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 32;
    if (n < 1 || n > 256)
        n = 32;
    unlink(argv[1]);
    if (FCGX_Init() != 0 || (sock_fd = FCGX_OpenSocket(argv[1], 256)) < 0) {
        fprintf(stderr, "trivial_fcgi: cannot listen on %s\n", argv[1]);
        return 1;
    }
    /* libfcgi catches SIGTERM to end its accept loop gracefully, which
     * never comes while every thread waits in accept: stop at once. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    chmod(argv[1], 0660);
    pthread_t t[256];
    for (long i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0)
            return 1;
    for (long i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return 0;
}
