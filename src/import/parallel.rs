//! Work the import splits across threads itself, between polars' queries (polars runs its own
//! on its own threads).

/// How many threads the machine runs at once.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs each job on a thread of its own and gives back their results in the jobs' order, or
/// `None` if any job panicked.
pub fn on_threads<T: Send>(
    jobs: impl IntoIterator<Item = impl FnOnce() -> T + Send>,
) -> Option<Vec<T>> {
    std::thread::scope(|scope| {
        let running: Vec<_> = jobs.into_iter().map(|job| scope.spawn(job)).collect();
        running
            .into_iter()
            .map(|thread| thread.join().ok())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_the_jobs_order() {
        let data = [3, 1, 2];
        let doubled = on_threads(data.iter().map(|n| move || n * 2));
        assert_eq!(doubled, Some(vec![6, 2, 4]));
        let none: Option<Vec<i32>> = on_threads(Vec::<fn() -> i32>::new());
        assert_eq!(none, Some(vec![]));
    }
}
