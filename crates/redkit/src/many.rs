//! Several input files worked on at once, one worker per core: `check-rdb`, `analyze` and
//! `digest` given more than one file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The first file and the rest, as the commands take them.
pub fn files<'a>(first: &'a Path, more: &'a [PathBuf]) -> Vec<&'a Path> {
    std::iter::once(first)
        .chain(more.iter().map(PathBuf::as_path))
        .collect()
}

/// Runs `work` on every file, as many at once as there are cores, and gives the results in
/// the files' order. A worker takes the next file when it is done with one, so a large file
/// does not hold up the small ones behind it.
pub fn each<T: Send>(files: &[&Path], work: impl Fn(&Path) -> T + Sync) -> Vec<T> {
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    let worker = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(f) = files.get(i) else { break };
        let r = work(f);
        results.lock().expect("not poisoned")[i] = Some(r);
    };
    std::thread::scope(|scope| {
        // This thread is one of the workers; a thread the system refuses is one fewer.
        for _ in 1..workers {
            let _ = std::thread::Builder::new()
                .name("worker".into())
                .spawn_scoped(scope, worker);
        }
        worker();
    });
    results
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .map(|r| r.expect("every file worked on"))
        .collect()
}

/// Runs `a` on this thread and `b` on a second one, at once; both on this thread, one after
/// the other, when the system refuses a thread. A panic of `b` comes back as an error.
pub fn both<A: Send, B: Send>(
    a: impl FnOnce() -> anyhow::Result<A>,
    b: impl Fn() -> anyhow::Result<B> + Sync,
) -> (anyhow::Result<A>, anyhow::Result<B>) {
    let b = &b;
    std::thread::scope(|scope| {
        let started = std::thread::Builder::new()
            .name("second".into())
            .spawn_scoped(scope, b);
        let a = a();
        let b = match started {
            Ok(h) => h
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the second thread failed"))),
            Err(_) => b(),
        };
        (a, b)
    })
}

/// Runs `work` on every file (see [`each`]); gives each file's report, in the files' order,
/// and the worst exit code. A file `work` fails on (it cannot be read) gets `failed(file,
/// why)` as its report, and the exit code of an I/O error.
pub fn reports(
    files: &[&Path],
    work: impl Fn(&Path) -> anyhow::Result<(i32, serde_json::Value)> + Sync,
    failed: impl Fn(&Path, String) -> serde_json::Value,
) -> (i32, Vec<serde_json::Value>) {
    let mut worst = crate::exit::OK;
    let mut out = Vec::with_capacity(files.len());
    for (f, r) in files.iter().zip(each(files, work)) {
        out.push(match r {
            Ok((code, report)) => {
                worst = worst.max(code);
                report
            }
            Err(e) => {
                worst = crate::exit::ERROR;
                failed(f, format!("{e:#}"))
            }
        });
    }
    (worst, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_files_order() {
        let names: Vec<PathBuf> = (0..37).map(|i| PathBuf::from(format!("f{i}"))).collect();
        let files: Vec<&Path> = names.iter().map(PathBuf::as_path).collect();
        let got = each(&files, |p| {
            // Uneven work, so that workers finish out of order.
            let n: u64 = p.to_str().unwrap()[1..].parse().unwrap();
            std::thread::sleep(std::time::Duration::from_micros((37 - n) * 50));
            n
        });
        assert_eq!(got, (0..37).collect::<Vec<u64>>());
    }
}
