/* shim_sock.c - address and SCM_RIGHTS packet helpers for the shim socket. */
#include "shim_sock.h"
#include "shim_proto.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int shim_sock_addr(const char *dir, struct sockaddr_un *sa, socklen_t *len, int *dirfd)
{
    *dirfd = -1;
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, SHIM_SOCK_NAME);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(sa->sun_path)) {
        int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", fd, SHIM_SOCK_NAME);
        *dirfd = fd;
    }
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
    return 0;
}

int shim_sock_send(int fd, const void *buf, size_t len, const int *fds, int nfds, int flags)
{
    union {
        char b[CMSG_SPACE(sizeof(int) * SHIM_EXEC_FDS)];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = {(void *)buf, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds < 0 || nfds > SHIM_EXEC_FDS)
        return -EINVAL;
    if (nfds > 0) {
        memset(&cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf.b;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    for (;;) {
        ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
        if (r >= 0)
            return (size_t)r == len ? 0 : -EMSGSIZE;
        if (errno != EINTR)
            return -errno;
    }
}

static void take_fds(struct msghdr *mh, int *fds, int max_fds, int *nfds, bool keep)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < cnt; i++) {
            int one;
            memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (keep && *nfds < max_fds)
                fds[(*nfds)++] = one;
            else
                close(one);
        }
    }
}

ssize_t shim_sock_recv(int fd, void *buf, size_t cap, int *fds, int max_fds, int *nfds, int flags)
{
    union {
        char b[CMSG_SPACE(sizeof(int) * (SHIM_EXEC_FDS + 1))];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = {buf, cap};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b)};
    *nfds = 0;
    ssize_t r;
    do {
        r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    bool trunc = (mh.msg_flags & MSG_TRUNC) != 0;
    take_fds(&mh, fds, max_fds, nfds, !trunc);
    if (trunc)
        return -EMSGSIZE;
    return r;
}
