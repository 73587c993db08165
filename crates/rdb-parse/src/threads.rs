//! Helper threads the system may refuse to start (a limit on processes or threads, as in a
//! container, or on memory for their stacks). A command then does the work on its own thread,
//! more slowly, instead of stopping: [`spawn_or_keep`] gives the work back.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// Runs `f(work)` on a new thread named `name`. When the system cannot start one, gives
/// `work` back for the caller to do itself.
pub fn spawn_or_keep<T, R, F>(name: &str, work: T, f: F) -> Result<JoinHandle<R>, T>
where
    T: Send + 'static,
    R: Send + 'static,
    F: FnOnce(T) -> R + Send + 'static,
{
    // The work waits in a slot both sides hold: the thread takes it when it runs; when the
    // thread never ran, the slot still has it.
    let slot = Arc::new(Mutex::new(Some(work)));
    let theirs = Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let work = take(&theirs).expect("the work is there until the thread takes it");
            f(work)
        });
    spawned.map_err(|_| take(&slot).expect("a thread that did not start took nothing"))
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_gets_the_work() {
        let h = spawn_or_keep("test", vec![1, 2, 3], |v| v.iter().sum::<i32>())
            .unwrap_or_else(|_| panic!("this machine starts threads"));
        assert_eq!(h.join().unwrap(), 6);
    }
}
