//! Panics of dependencies turned into problems the user can act on. Polars (on a report's SQL
//! or an extract's values) can panic on input it does not expect; the stages that hand it
//! user input run it through [`catch`], which returns the panic's message instead, and the
//! hook installed by [`install_quiet_hook`] prints nothing for a panic caught this way (no
//! message, no backtrace: the caller reports a diagnostic naming the file). Panics anywhere
//! else still print and exit 101, as a bug in careplans should.
//!
//! Keep catches narrow: around one call into a dependency with user input, never around a
//! whole command.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// How many catches are running. Polars runs work on its own thread pool, so a panic it raises
/// may happen on a worker thread and only reach the caller later: while any catch runs,
/// panics are assumed to be one of its dependencies' and kept quiet.
static CATCHING: AtomicUsize = AtomicUsize::new(0);

/// The message of the last quiet panic, for the caller's diagnostic.
static LAST_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

static HOOK: Once = Once::new();

/// Installs the hook once: quiet while a catch runs, the default hook otherwise.
pub fn install_quiet_hook() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.load(Ordering::SeqCst) > 0 {
                let message = payload_text(info.payload());
                if let Ok(mut last) = LAST_MESSAGE.lock() {
                    *last = Some(message);
                }
            } else {
                default(info);
            }
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "an internal error".to_owned())
}

/// Runs `work`, returning its result, or the message of a panic inside it.
pub fn catch<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    install_quiet_hook();
    CATCHING.fetch_add(1, Ordering::SeqCst);
    // The closure's captures are not touched again after a panic: the caller gets only the
    // message, so nothing half-updated is observed.
    let result = catch_unwind(AssertUnwindSafe(work));
    CATCHING.fetch_sub(1, Ordering::SeqCst);
    result.map_err(|payload| {
        LAST_MESSAGE
            .lock()
            .ok()
            .and_then(|mut last| last.take())
            .unwrap_or_else(|| payload_text(payload.as_ref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_catch_becomes_its_message() {
        let caught = catch(|| -> u8 { panic!("polars said no") });
        assert_eq!(caught, Err("polars said no".to_owned()));
        assert_eq!(catch(|| 7), Ok(7));
    }

    #[test]
    fn a_panic_on_another_thread_during_a_catch_is_caught_too() {
        let caught = catch(|| {
            std::thread::spawn(|| panic!("worker {}", 3))
                .join()
                .map_err(|e| std::panic::resume_unwind(e))
        });
        assert_eq!(caught, Err("worker 3".to_owned()));
    }
}
