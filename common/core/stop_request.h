// A process-wide request to stop at the next safe point, set by SIGTERM or SIGINT.
//
// NOTE [Stop requests]
// A learner that is told to stop (the launcher's SIGTERM on Ctrl-C, scancel, a Slurm time limit)
// finishes the step it is in, writes a checkpoint and exits 0, instead of dying with everything
// since its last periodic checkpoint. installStopHandler() makes SIGTERM and SIGINT only set a
// flag (an async-signal-safe store to a lock-free atomic); the loop polls stopRequested() where
// stopping is safe. The launcher still SIGKILLs what has not exited after its grace period
// (launch.stop_grace_s), so a learner stuck in a collective cannot hold a stop up for ever.
#pragma once

namespace gramrl {

// Replaces the dispositions of SIGTERM and SIGINT for the rest of the process. Idempotent.
void installStopHandler();
// Whether SIGTERM or SIGINT arrived since installStopHandler() (or requestStop() was called).
bool stopRequested();
// The same as receiving the signal (tests, and code that decides to stop on its own).
void requestStop();

}  // namespace gramrl
