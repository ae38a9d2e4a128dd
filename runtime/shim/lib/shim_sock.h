/* shim_sock.h - the shim socket's address and packet I/O with fds (libc only; both sides). */
#ifndef MK_SHIM_SOCK_H
#define MK_SHIM_SOCK_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The address of <dir>/shim.sock. When the path is longer than sun_path allows, the address
 * goes through /proc/self/fd/<fd>/ of the directory opened O_PATH; *dirfd then holds that fd
 * and must stay open until bind/connect returns (close it after), else it is -1.
 * Returns 0 or -errno. */
int shim_sock_addr(const char *dir, struct sockaddr_un *sa, socklen_t *len, int *dirfd);

/* Send one packet (MSG_NOSIGNAL | flags) with up to SHIM_EXEC_FDS fds (-1 entries are not
 * allowed; pass nfds = 0 for none). 0 or -errno (-EAGAIN with MSG_DONTWAIT). EINTR retried. */
int shim_sock_send(int fd, const void *buf, size_t len, const int *fds, int nfds, int flags);

/* Receive one packet into buf. Received fds (O_CLOEXEC) go to fds[0..*nfds); extra or
 * truncated fds are closed. Returns the length, 0 at end of stream, -EMSGSIZE for a packet
 * larger than cap (its fds closed), or -errno. EINTR retried. */
ssize_t shim_sock_recv(int fd, void *buf, size_t cap, int *fds, int max_fds, int *nfds, int flags);

#endif
