// libarchive, opened on first use (lazy_library.hpp): the functions of it kbk calls, forwarded. A function kbk starts
// to call is added here (the link fails until it is).
#include <archive.h>
#include <archive_entry.h>

#include "lazy_sym.hpp"

#if ARCHIVE_VERSION_NUMBER < 3000000
#error "libarchive 3 (soname libarchive.so.13) is required"
#endif

#define FWD(ret, name, params, args) KBK_LAZY_FORWARD(kbk::util::k_libarchive_soname, ret, name, params, args)

using E = struct archive_entry;
using A = struct archive;

FWD(__LA_MODE_T, archive_entry_filetype, (E * e), (e))
FWD(void, archive_entry_free, (E * e), (e))
FWD(la_int64_t, archive_entry_gid, (E * e), (e))
FWD(const char*, archive_entry_gname, (E * e), (e))
FWD(const char*, archive_entry_hardlink, (E * e), (e))
FWD(time_t, archive_entry_mtime, (E * e), (e))
FWD(long, archive_entry_mtime_nsec, (E * e), (e))
FWD(E*, archive_entry_new, (void), ())
FWD(const char*, archive_entry_pathname, (E * e), (e))
FWD(__LA_MODE_T, archive_entry_perm, (E * e), (e))
FWD(dev_t, archive_entry_rdev, (E * e), (e))
FWD(void, archive_entry_set_filetype, (E * e, unsigned int t), (e, t))
FWD(void, archive_entry_set_gid, (E * e, la_int64_t v), (e, v))
FWD(void, archive_entry_set_gname, (E * e, const char* v), (e, v))
FWD(void, archive_entry_set_hardlink, (E * e, const char* v), (e, v))
FWD(void, archive_entry_set_mtime, (E * e, time_t s, long ns), (e, s, ns))
FWD(void, archive_entry_set_pathname, (E * e, const char* v), (e, v))
FWD(void, archive_entry_set_pathname_utf8, (E * e, const char* v), (e, v))
FWD(void, archive_entry_set_perm, (E * e, __LA_MODE_T v), (e, v))
FWD(void, archive_entry_set_rdev, (E * e, dev_t v), (e, v))
FWD(void, archive_entry_set_size, (E * e, la_int64_t v), (e, v))
FWD(void, archive_entry_set_symlink, (E * e, const char* v), (e, v))
FWD(void, archive_entry_set_uid, (E * e, la_int64_t v), (e, v))
FWD(void, archive_entry_set_uname, (E * e, const char* v), (e, v))
FWD(la_int64_t, archive_entry_size, (E * e), (e))
FWD(int, archive_entry_size_is_set, (E * e), (e))
FWD(void, archive_entry_sparse_add_entry, (E * e, la_int64_t o, la_int64_t l), (e, o, l))
FWD(int, archive_entry_sparse_count, (E * e), (e))
FWD(const char*, archive_entry_symlink, (E * e), (e))
FWD(la_int64_t, archive_entry_uid, (E * e), (e))
FWD(const char*, archive_entry_uname, (E * e), (e))
FWD(void, archive_entry_xattr_add_entry, (E * e, const char* n, const void* v, size_t s), (e, n, v, s))
FWD(int, archive_entry_xattr_next, (E * e, const char** n, const void** v, size_t* s), (e, n, v, s))
FWD(int, archive_entry_xattr_reset, (E * e), (e))
FWD(const char*, archive_error_string, (A * a), (a))
FWD(la_ssize_t, archive_read_data, (A * a, void* b, size_t n), (a, b, n))
FWD(int, archive_read_data_block, (A * a, const void** b, size_t* n, la_int64_t* o), (a, b, n, o))
FWD(int, archive_read_free, (A * a), (a))
FWD(A*, archive_read_new, (void), ())
FWD(int, archive_read_next_header, (A * a, E** e), (a, e))
FWD(int, archive_read_open,
    (A * a, void* d, archive_open_callback* o, archive_read_callback* r, archive_close_callback* c), (a, d, o, r, c))
FWD(int, archive_read_open_fd, (A * a, int fd, size_t block), (a, fd, block))
FWD(int, archive_read_support_filter_none, (A * a), (a))
FWD(int, archive_read_support_format_gnutar, (A * a), (a))
FWD(int, archive_read_support_format_tar, (A * a), (a))
FWD(int, archive_write_add_filter_gzip, (A * a), (a))
FWD(int, archive_write_add_filter_none, (A * a), (a))
FWD(int, archive_write_close, (A * a), (a))
FWD(la_ssize_t, archive_write_data, (A * a, const void* b, size_t n), (a, b, n))
FWD(int, archive_write_free, (A * a), (a))
FWD(int, archive_write_header, (A * a, E* e), (a, e))
FWD(A*, archive_write_new, (void), ())
FWD(int, archive_write_open_fd, (A * a, int fd), (a, fd))
FWD(int, archive_write_open2,
    (A * a, void* d, archive_open_callback* o, archive_write_callback* w, archive_close_callback* c,
     archive_free_callback* f),
    (a, d, o, w, c, f))
FWD(int, archive_write_set_bytes_in_last_block, (A * a, int n), (a, n))
FWD(int, archive_write_set_bytes_per_block, (A * a, int n), (a, n))
FWD(int, archive_write_set_format_pax, (A * a), (a))
FWD(int, archive_write_set_format_pax_restricted, (A * a), (a))
