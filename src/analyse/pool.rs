//! The thread pool analysis and rendering run on: polars' own. A polars query started from a
//! thread outside it hands each step of its plan to the pool and waits for it; started from
//! one of its threads, the steps run where they are. For the small queries a page asks, that
//! hand-over was half their time, so whatever runs queries side by side runs here.

pub use polars_core::runtime::THREAD_POOL as POOL;

/// Runs `work` on one of the pool's threads and returns what it gives.
pub fn install<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    POOL.install(work)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn work_installed_runs_on_the_pool_and_its_queries_with_it() {
        assert_eq!(POOL.current_thread_index(), None, "the test's own thread");
        let (index, sum) = install(|| {
            let frame = df!("x" => [1i64, 2, 3]).unwrap();
            let sum = frame
                .lazy()
                .select([col("x").sum()])
                .collect()
                .unwrap()
                .column("x")
                .unwrap()
                .i64()
                .unwrap()
                .get(0);
            (POOL.current_thread_index(), sum)
        });
        assert!(index.is_some(), "on one of polars' threads");
        assert_eq!(sum, Some(6));
    }
}
