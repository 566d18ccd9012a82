/* SPDX-License-Identifier: Apache-2.0 */
/* store-floor.c: the floor of storing a picture durably on this machine,
 * for bench/cost. WRITERS processes each store N/WRITERS copies of a
 * picture file into DIR as the local store does (gf_storage_local.c): a
 * temporary name, write, fsync, permissions, close, rename into one of
 * 256 folders, the folder fsynced. Nothing else: no database, no HTTP.
 * Prints "<files/s> <CPU µs a file, user and system of all writers>".
 *
 * Usage: store-floor DIR PICTURE N WRITERS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int store(const char *dir, const char *buf, size_t len, unsigned seq)
{
    char sub[4096], path[4200], tmp[4300];
    int fd, d;

    snprintf(sub, sizeof(sub), "%s/%02x", dir, seq % 256);
    snprintf(path, sizeof(path), "%s/%u-%08x.png", sub, seq, (unsigned)rand());
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    if (mkdir(sub, 0755) != 0 && access(sub, W_OK) != 0) return -1;
    if ((fd = mkstemp(tmp)) < 0) return -1;
    if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) return -1;
    if (fchmod(fd, 0644) != 0 || close(fd) != 0 || rename(tmp, path) != 0) return -1;
    if ((d = open(sub, O_RDONLY)) < 0) return -1;
    if (fsync(d) != 0) return -1;
    return close(d);
}

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    struct rusage ru;
    struct stat st;
    char *buf;
    int n, writers, w, fd, status, bad = 0;
    double wall, cpu;

    if (argc != 5 || (n = atoi(argv[3])) <= 0 || (writers = atoi(argv[4])) <= 0) {
        fprintf(stderr, "usage: store-floor DIR PICTURE N WRITERS\n");
        return 2;
    }
    if ((fd = open(argv[2], O_RDONLY)) < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
        perror(argv[2]);
        return 2;
    }
    if (!(buf = malloc((size_t)st.st_size)) || read(fd, buf, (size_t)st.st_size) != st.st_size) {
        perror("read");
        return 2;
    }
    close(fd);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (w = 0; w < writers; w++) {
        pid_t pid = fork();
        if (pid < 0) return 2;
        if (pid == 0) {
            int i;
            srand((unsigned)getpid());
            for (i = w; i < n; i += writers) {
                if (store(argv[1], buf, (size_t)st.st_size, (unsigned)i) != 0) _exit(1);
            }
            _exit(0);
        }
    }
    while (wait(&status) > 0) bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (bad) {
        fprintf(stderr, "store-floor: a writer failed\n");
        return 1;
    }
    getrusage(RUSAGE_CHILDREN, &ru);
    cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6
          + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.1f %.1f\n", n / wall, cpu / n);
    return 0;
}
