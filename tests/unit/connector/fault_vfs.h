/*
 * For the store's unit tests: a pass-through SQLite VFS that counts xSync calls and can make them
 * fail. fault_vfs_register() puts it in front of the default VFS (and makes it the default), so
 * every connection opened afterwards, the store's and the test's own, goes through it;
 * fault_vfs_unregister() takes it out again.
 *
 *   fault_vfs_syncs     xSync calls since the test last set it to 0
 *   fault_vfs_sync_rc   0, or an SQLite error code every xSync returns instead of syncing
 */
#ifndef SCVB_TEST_FAULT_VFS_H
#define SCVB_TEST_FAULT_VFS_H

#include <sqlite3.h>

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* the wrapped file, allocated right after this struct */
};

static sqlite3_vfs *fault_vfs_real;
static sqlite3_vfs fault_vfs;
static int fault_vfs_syncs;
static int fault_vfs_sync_rc;

#define REAL(f) (((struct fault_file *)(f))->real)

static int
ff_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
ff_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int
ff_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int
ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
ff_sync(sqlite3_file *f, int flags)
{
	fault_vfs_syncs++;
	if (fault_vfs_sync_rc)
		return fault_vfs_sync_rc;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
ff_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
ff_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int
ff_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int
ff_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
ff_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
ff_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
ff_device_characteristics(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
ff_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int
ff_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void
ff_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
ff_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int
ff_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, amt, pp);
}

static int
ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

#undef REAL

static const sqlite3_io_methods ff_methods = {
        .iVersion = 3,
        .xClose = ff_close,
        .xRead = ff_read,
        .xWrite = ff_write,
        .xTruncate = ff_truncate,
        .xSync = ff_sync,
        .xFileSize = ff_file_size,
        .xLock = ff_lock,
        .xUnlock = ff_unlock,
        .xCheckReservedLock = ff_check_reserved,
        .xFileControl = ff_file_control,
        .xSectorSize = ff_sector_size,
        .xDeviceCharacteristics = ff_device_characteristics,
        .xShmMap = ff_shm_map,
        .xShmLock = ff_shm_lock,
        .xShmBarrier = ff_shm_barrier,
        .xShmUnmap = ff_shm_unmap,
        .xFetch = ff_fetch,
        .xUnfetch = ff_unfetch,
};

static int
ff_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out_flags)
{
	struct fault_file *ff = (struct fault_file *)f;
	int rc;

	(void)vfs;
	ff->real = (sqlite3_file *)(ff + 1);
	rc = fault_vfs_real->xOpen(fault_vfs_real, name, ff->real, flags, out_flags);
	ff->base.pMethods = ff->real->pMethods ? &ff_methods : NULL;
	return rc;
}

static inline void
fault_vfs_register(void)
{
	fault_vfs_real = sqlite3_vfs_find(NULL);
	fault_vfs = *fault_vfs_real;
	fault_vfs.pNext = NULL;
	fault_vfs.zName = "scvb-fault";
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + fault_vfs_real->szOsFile;
	fault_vfs.xOpen = ff_open;
	sqlite3_vfs_register(&fault_vfs, 1);
}

static inline void
fault_vfs_unregister(void)
{
	sqlite3_vfs_unregister(&fault_vfs);
}

#endif
