/* The test suite's loopback guard, preloaded (LD_PRELOAD) into every process the suite runs.
 *
 * The suite may send nothing outside 127.0.0.0/8.  EPICS' libca alternates its CA repeater
 * registration between 127.0.0.1 and the machine's first non-loopback address: a context that
 * lives 11 s sends one (empty) datagram there, whatever the EPICS_CA_* variables say.  This
 * library stops such traffic before it is sent: a datagram to any other address is dropped
 * (the call reports it sent, as a firewall's DROP looks), a connect to one is refused
 * (ENETUNREACH).  Each one is appended to the file named by IOCHOST_LOOPBACK_GUARD_LOG as
 * "pid call address port size command-line" (size -1: a connect), so that the suite can
 * show what it stopped.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int is_loopback(const struct sockaddr *addr, socklen_t len)
{
    if (addr == NULL)
        return 1;   /* a connected socket's destination was checked at connect */
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return addr->sa_family != AF_INET && addr->sa_family != AF_INET6;  /* AF_UNIX, netlink */
}

static void report(const char *call, const struct sockaddr *addr, long size)
{
    const char *path = getenv("IOCHOST_LOOPBACK_GUARD_LOG");
    char host[INET6_ADDRSTRLEN] = "?", line[320];
    unsigned port = 0;
    if (path == NULL)
        return;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    char command[160] = "";   /* the command line, its NULs as spaces: who sent it */
    ssize_t n = 0;
    int cmdline = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (cmdline >= 0) {
        n = read(cmdline, command, sizeof command - 1);
        close(cmdline);
    }
    for (ssize_t i = 0; i < n; i++)
        if (command[i] == '\0' || command[i] == '\n')
            command[i] = ' ';
    command[n > 0 ? n : 0] = '\0';
    int len = snprintf(line, sizeof line, "%d %s %s %u %ld %s\n", (int)getpid(), call, host,
                       port, size, command);
    if (len <= 0)
        return;
    if (len >= (int)sizeof line) {   /* cut, but still one line */
        len = (int)sizeof line - 1;
        line[len - 1] = '\n';
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t ignored = write(fd, line, (size_t)len);
        (void)ignored;
        close(fd);
    }
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!is_loopback(addr, len)) {
        int type = 0;
        socklen_t type_len = sizeof type;
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len);
        /* a datagram socket's connect sends nothing (Chromium's IPv6 probe): refused all
           the same, as its sends would go there */
        report(type == SOCK_DGRAM ? "connect-udp" : "connect", addr, -1);
        errno = ENETUNREACH;
        return -1;
    }
    if (real == NULL)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    return real(fd, addr, len);
}

ssize_t sendto(int fd, const void *buf, size_t size, int flags,
               const struct sockaddr *addr, socklen_t len)
{
    static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    if (!is_loopback(addr, len)) {
        report("sendto", addr, (long)size);
        return (ssize_t)size;
    }
    if (real == NULL)
        real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *,
                            socklen_t))dlsym(RTLD_NEXT, "sendto");
    return real(fd, buf, size, flags, addr, len);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static ssize_t (*real)(int, const struct msghdr *, int);
    if (!is_loopback((const struct sockaddr *)msg->msg_name, msg->msg_namelen)) {
        size_t size = 0;
        for (size_t i = 0; i < msg->msg_iovlen; i++)
            size += msg->msg_iov[i].iov_len;
        report("sendmsg", (const struct sockaddr *)msg->msg_name, (long)size);
        return (ssize_t)size;
    }
    if (real == NULL)
        real = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
    return real(fd, msg, flags);
}

int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int count, int flags)
{
    static int (*real)(int, struct mmsghdr *, unsigned int, int);
    unsigned int i;
    for (i = 0; i < count; i++)
        if (!is_loopback((const struct sockaddr *)msgs[i].msg_hdr.msg_name,
                         msgs[i].msg_hdr.msg_namelen))
            break;
    if (i == count) {
        if (real == NULL)
            real = (int (*)(int, struct mmsghdr *, unsigned int, int))dlsym(RTLD_NEXT,
                                                                             "sendmmsg");
        return real(fd, msgs, count, flags);
    }
    for (i = 0; i < count; i++) {   /* one by one, each through the check above */
        ssize_t sent = sendmsg(fd, &msgs[i].msg_hdr, flags);
        if (sent < 0)
            return i > 0 ? (int)i : -1;
        msgs[i].msg_len = (unsigned int)sent;
    }
    return (int)count;
}
