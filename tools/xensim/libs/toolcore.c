/*
 * libxentoolcore.so.1: the registry of open handles that
 * xentoolcore_restrict_all() restricts to one domain (dm_restrict).
 *
 * Every library handle (ours, and Debian's libxenstore) registers an
 * Xentoolcore__Active_Handle; restricting calls each one's callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "xentoolcore-internal.h"

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static XEN_TAILQ_HEAD(, Xentoolcore__Active_Handle) handles =
    XEN_TAILQ_HEAD_INITIALIZER(handles);

void xentoolcore__register_active_handle(Xentoolcore__Active_Handle *ah)
{
    pthread_mutex_lock(&handles_lock);
    XEN_TAILQ_INSERT_HEAD(&handles, ah, entry);
    pthread_mutex_unlock(&handles_lock);
}

void xentoolcore__deregister_active_handle(Xentoolcore__Active_Handle *ah)
{
    pthread_mutex_lock(&handles_lock);
    XEN_TAILQ_REMOVE(&handles, ah, entry);
    pthread_mutex_unlock(&handles_lock);
}

int xentoolcore_restrict_all(domid_t domid)
{
    Xentoolcore__Active_Handle *ah;
    int ret = 0;

    /*
     * Holding the lock across the callbacks is deliberate: a handle closed
     * concurrently must not vanish under us. Callbacks never (de)register.
     */
    pthread_mutex_lock(&handles_lock);
    XEN_TAILQ_FOREACH(ah, &handles, entry) {
        ret = ah->restrict_callback(ah, domid);
        if (ret < 0)
            break; /* errno from the callback; the caller should give up */
    }
    pthread_mutex_unlock(&handles_lock);
    return ret < 0 ? -1 : 0;
}

int xentoolcore__restrict_by_dup2_null(int fd)
{
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int ret = 0;

    if (nullfd < 0)
        return -1;
    /* dup2 keeps the fd number valid, so the owner's later close() stays harmless. */
    if (dup2(nullfd, fd) < 0)
        ret = -1;
    int saved = errno;
    close(nullfd);
    errno = saved;
    return ret;
}
