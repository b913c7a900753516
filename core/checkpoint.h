/* SPDX-License-Identifier: MIT */
/* WAL checkpoints of a database on a worker thread, so that the thread
 * that commits (the event loop) never waits on their copying and syncs. */
#ifndef MW_CHECKPOINT_H
#define MW_CHECKPOINT_H

#include <sqlite3.h>

#include "buf.h"

typedef struct mw_checkpointer mw_checkpointer;

/* The worker starts a pass each time the WAL has grown by this many
 * frames (2 MiB of 8 KiB pages). Measured at 64 connections
 * (bench/daemon, three runs each): 250 took 0.20 CPU ms per share and a
 * p99 of 8-9 ms, 1,000 took 0.205 ms and 15-20 ms, 32 took 0.24 ms
 * (each pass syncs both files, however little it copies). */
#define MW_CHECKPOINT_STEP_FRAMES 250
/* Past this many (16 MiB of 8 KiB pages), the committing thread copies
 * what the worker left, so that the WAL can start over. 16,000 frames
 * cost the same CPU per share (bench/daemon) but let the WAL reach
 * 130 MiB, which filled small disks. */
#define MW_CHECKPOINT_CATCH_UP_FRAMES 2048

/* Takes over the checkpoints of main, a WAL-mode connection to the
 * database at path, which must not hold it in exclusive locking mode.
 * The worker opens a connection of its own. step_frames and
 * catch_up_frames are the two limits above (tests pass smaller ones). */
mw_checkpointer *mw_checkpointer_start(sqlite3 *main, const char *path,
                                       int step_frames, int catch_up_frames,
                                       mw_err *e);

/* Asks for a pass now, whatever the WAL holds, that also cuts the WAL
 * file to nothing once every frame is copied: after a commit failed for
 * want of disk space, the space the WAL held goes back to the database
 * (its file keeps its largest size otherwise). */
void mw_checkpointer_kick(mw_checkpointer *c);

/* Passes the worker ran, and catch-ups the committing thread ran. */
void mw_checkpointer_counts(mw_checkpointer *c, long long *passes,
                            long long *catch_ups);

/* Stops the worker and hands checkpoints back to main's commits. Call it
 * before main is closed. */
void mw_checkpointer_stop(mw_checkpointer *c);

#endif
