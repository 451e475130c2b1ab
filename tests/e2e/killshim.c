/* LD_PRELOAD shim of the kill-at-any-point tests (tests/e2e/killlib.py): counts the file mutations a process makes
 * (each write/pwrite to a regular file, rename, unlink, fsync) and SIGKILLs the process just before mutation number
 * KILLSHIM_AT, so a kill lands at an exact point of a run instead of after a sleep. KILLSHIM_COUNT=FILE: the total
 * is written there when the process exits normally (the clean run that measures where the kill points go).
 * Interposes the libc calls kbk's file backend and repository make directly (src/storage/file_backend.cpp,
 * src/util/fs.cpp); not part of kbk. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef int (*rename_fn)(const char*, const char*);
typedef int (*unlink_fn)(const char*);
typedef int (*fsync_fn)(int);

static atomic_long counter;
static long kill_at = -1;

__attribute__((constructor)) static void init(void) {
  const char* at = getenv("KILLSHIM_AT");
  if (at && *at) kill_at = atol(at);
}

__attribute__((destructor)) static void fini(void) {
  const char* path = getenv("KILLSHIM_COUNT");
  if (!path || !*path) return;
  FILE* f = fopen(path, "w");
  if (!f) return;
  fprintf(f, "%ld\n", (long)atomic_load(&counter));
  fclose(f);
}

static void step(void) {
  long n = atomic_fetch_add(&counter, 1) + 1;
  if (kill_at > 0 && n == kill_at) kill(getpid(), SIGKILL);
}

static int regular(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

#define REAL(name, type) \
  static type real_##name;   \
  if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void* buf, size_t n) {
  REAL(write, write_fn);
  if (fd > 2 && regular(fd)) step();
  return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  REAL(pwrite, pwrite_fn);
  if (regular(fd)) step();
  return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  REAL(pwrite64, pwrite_fn);
  if (regular(fd)) step();
  return real_pwrite64(fd, buf, n, off);
}

int rename(const char* a, const char* b) {
  REAL(rename, rename_fn);
  step();
  return real_rename(a, b);
}

int unlink(const char* p) {
  REAL(unlink, unlink_fn);
  step();
  return real_unlink(p);
}

int fsync(int fd) {
  REAL(fsync, fsync_fn);
  step();
  return real_fsync(fd);
}
