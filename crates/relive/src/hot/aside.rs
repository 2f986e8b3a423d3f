//! The state read aside: a copy of the process, made by `fork(2)`, encodes the state while the
//! game's frames go on. The copy sees the state as it was at the fork (its memory is the
//! parent's, copied on write), runs the worker's own `save` on it, writes the bytes into a pipe
//! and exits; nothing of the copy touches the game's window, files or sockets.
//!
//! This is how the in-window inspector reads a state that takes longer to encode than a frame
//! has: the game's thread pays only for the fork (copying the page tables), not for the encode.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use relive_worker::Interface;

use super::{Worker, call_error};
use crate::error::Error;
use crate::loader::library::CallError;
use crate::state::snapshot::Snapshot;

/// How long the copy may take before it is stopped.
const DEADLINE: Duration = Duration::from_secs(30);

/// What the copy writes first: how its `save` ended.
const SAVED: u8 = 0;
const FAILED: u8 = 1;
const PANICKED: u8 = 2;

/// A snapshot being taken in a copy of the process, from [`Worker::snapshot_aside`].
///
/// [`SnapshotAside::wait`] blocks until the copy is done: call it from a thread of its own.
/// Dropping it unwaited stops the copy.
#[derive(Debug)]
pub struct SnapshotAside {
    pid: libc::pid_t,
    pipe: Option<File>,
    state_type: String,
    state_version: u32,
    version: u64,
    /// What making the copy took on the calling thread.
    forked_in: Duration,
    /// How the copy ended, once reaped ("exited with 0", "was killed by signal 11").
    ended: String,
}

impl<C: ?Sized + Interface + 'static> Worker<C> {
    /// Starts taking a [`Snapshot`] of the state as it is now, in a copy of the process, so that
    /// the calling thread (the game's) goes on at once: it pays only for `fork(2)`, about a
    /// millisecond per 100 MB the process has in memory, not for the encode.
    ///
    /// The copy has only the calling thread: a `Serialize` that waits on another thread (a lock
    /// another thread holds) never finishes there, and is stopped after 30 s. The same bytes as
    /// [`Worker::snapshot`] come back.
    pub fn snapshot_aside(&self) -> Result<SnapshotAside, Error> {
        let started = Instant::now();
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2(2) writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(aside_error(format!(
                "cannot make a pipe: {}",
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: pipe2 succeeded, so both are open descriptors owned by nobody else.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: getpid(2) has no preconditions.
        let parent = unsafe { libc::getpid() };
        // The child touches only its copy of the state, the worker's `save` and the pipe; glibc
        // makes malloc usable in the child of a threaded process.
        // SAFETY: the child runs only `encode_in_child`, which ends with `_exit`: nothing of the
        // parent's (destructors, atexit handlers, buffered output) runs twice.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(aside_error(format!(
                "cannot copy the process: {}",
                std::io::Error::last_os_error()
            )));
        }
        if pid == 0 {
            drop(read_end);
            // SAFETY: in the child, see `encode_in_child`; the state belongs to `self.lib`.
            unsafe { encode_in_child(self, write_end, parent) }
        }
        drop(write_end);
        Ok(SnapshotAside {
            pid,
            pipe: Some(File::from(read_end)),
            state_type: self.lib.state_type().to_owned(),
            state_version: self.lib.state_version(),
            version: self.version,
            forked_in: started.elapsed(),
            ended: String::new(),
        })
    }
}

/// In the copy: encodes the state, writes the result into `out`, exits.
///
/// # Safety
///
/// Only in the child of `fork`, with `worker`'s state created by its library.
unsafe fn encode_in_child<C: ?Sized + Interface + 'static>(
    worker: &Worker<C>,
    out: OwnedFd,
    parent: libc::pid_t,
) -> ! {
    // SAFETY: prctl, getppid, signal and _exit are async-signal-safe. The parent's signal
    // handlers (a Ctrl-C saves the game's state) must not run here: the copy just ends.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the caller guarantees the state belongs to the library.
        unsafe { worker.lib.save(worker.state.as_ptr()) }
    }));
    let mut message = Vec::new();
    match result {
        Ok(Ok(bytes)) => {
            message.push(SAVED);
            field(&mut message, &bytes);
        }
        Ok(Err(CallError::Failed(text))) => {
            message.push(FAILED);
            field(&mut message, text.as_bytes());
        }
        Ok(Err(CallError::Panicked {
            message: text,
            location,
        })) => {
            message.push(PANICKED);
            field(&mut message, text.as_bytes());
            field(&mut message, location.unwrap_or_default().as_bytes());
        }
        Err(_) => {
            message.push(FAILED);
            field(
                &mut message,
                b"relive's own code panicked while saving the state",
            );
        }
    }
    let mut rest = &message[..];
    while !rest.is_empty() {
        // SAFETY: `rest` is a live buffer of `rest.len()` bytes; `out` is open.
        let n = unsafe { libc::write(out.as_raw_fd(), rest.as_ptr().cast(), rest.len()) };
        if n > 0 {
            rest = &rest[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        } else {
            break;
        }
    }
    // SAFETY: ends the copy without running anything of the parent's (see above).
    unsafe { libc::_exit(0) }
}

/// Appends one length-prefixed field.
fn field(message: &mut Vec<u8>, bytes: &[u8]) {
    message.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    message.extend_from_slice(bytes);
}

/// Takes one length-prefixed field off the front of `rest`.
fn take_field(rest: &mut &[u8]) -> Option<Vec<u8>> {
    let (len, tail) = rest.split_first_chunk::<8>()?;
    let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
    if tail.len() < len {
        return None;
    }
    let (bytes, tail) = tail.split_at(len);
    *rest = tail;
    Some(bytes.to_vec())
}

fn aside_error(reason: String) -> Error {
    Error::ReadAside { reason }
}

impl SnapshotAside {
    /// What making the copy of the process took on the thread that asked for it.
    pub fn forked_in(&self) -> Duration {
        self.forked_in
    }

    /// Waits for the copy to finish encoding and returns the snapshot (the state as it was
    /// when [`Worker::snapshot_aside`] was called). A copy that takes longer than 30 s is stopped.
    pub fn wait(mut self) -> Result<Snapshot, Error> {
        let bytes = self.read_all()?;
        let mut rest = &bytes[..];
        let Some((&tag, tail)) = rest.split_first() else {
            return Err(aside_error(format!(
                "the copy of the process encoding the state {} before it answered: the state's \
                 `Serialize` (or the worker's `save`) crashed there; the game is untouched, but \
                 its next reload or snapshot runs the same code",
                self.ended
            )));
        };
        rest = tail;
        let damaged = || aside_error("the copy of the process wrote a damaged answer".into());
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        match tag {
            SAVED => Ok(Snapshot {
                state_type: std::mem::take(&mut self.state_type),
                state_version: self.state_version,
                bytes: take_field(&mut rest).ok_or_else(damaged)?,
            }),
            FAILED => Err(Error::Save {
                version: self.version,
                message: text(take_field(&mut rest).ok_or_else(damaged)?),
            }),
            PANICKED => {
                let message = text(take_field(&mut rest).ok_or_else(damaged)?);
                let location = text(take_field(&mut rest).ok_or_else(damaged)?);
                let location = (!location.is_empty()).then_some(location);
                Err(call_error(
                    CallError::Panicked { message, location },
                    "save",
                    self.version,
                ))
            }
            _ => Err(damaged()),
        }
    }

    /// Everything the copy writes, until it closes the pipe; stops it past the deadline.
    fn read_all(&mut self) -> Result<Vec<u8>, Error> {
        let Some(mut pipe) = self.pipe.take() else {
            return Err(aside_error("already read".into()));
        };
        let deadline = Instant::now() + DEADLINE;
        let mut bytes = Vec::new();
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.stop();
                return Err(aside_error(format!(
                    "the copy of the process encoding the state took over {} s and was stopped \
                     (does the state's `Serialize` wait on a lock or another thread? the copy \
                     has only the game's thread)",
                    DEADLINE.as_secs()
                )));
            }
            let mut poll = libc::pollfd {
                fd: pipe.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().min(1000) as libc::c_int;
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, ms) };
            if ready < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                self.stop();
                return Err(aside_error(format!("cannot wait for the copy: {e}")));
            }
            if ready == 0 {
                continue;
            }
            match pipe.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.stop();
                    return Err(aside_error(format!("cannot read from the copy: {e}")));
                }
            }
        }
        self.reap();
        Ok(bytes)
    }

    /// Stops the copy and reaps it.
    fn stop(&mut self) {
        // SAFETY: `pid` is our child, not yet reaped (so the number is not reused).
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        self.reap();
    }

    /// Waits for the copy's exit, so that no zombie is left.
    fn reap(&mut self) {
        if self.pid <= 0 {
            return;
        }
        let mut status = 0;
        loop {
            // SAFETY: `pid` is our child; `status` is a valid out-pointer.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        self.ended = if libc::WIFSIGNALED(status) {
            format!("was killed by signal {}", libc::WTERMSIG(status))
        } else {
            format!("exited with {}", libc::WEXITSTATUS(status))
        };
        self.pid = 0;
    }
}

impl Drop for SnapshotAside {
    fn drop(&mut self) {
        if self.pid > 0 {
            self.pipe = None;
            self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_comes_back_as_written_and_a_short_one_is_refused() {
        let mut message = Vec::new();
        field(&mut message, b"state bytes");
        field(&mut message, b"");
        let mut rest = &message[..];
        assert_eq!(take_field(&mut rest).as_deref(), Some(&b"state bytes"[..]));
        assert_eq!(take_field(&mut rest).as_deref(), Some(&b""[..]));
        assert!(rest.is_empty());
        let mut short = &message[..12];
        assert_eq!(take_field(&mut short), None);
    }
}
