//! Threads for the relays, kept for the next connection: a connection's
//! blocking halves (reading and writing the program's pair) run here, so
//! a short connection costs two hand-offs, not two thread creations.

use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

/// Idle threads, each waiting on its own channel for one job.
static IDLE: Mutex<Vec<mpsc::Sender<Job>>> = Mutex::new(Vec::new());

/// An idle thread leaves after this long without work.
const LINGER: Duration = Duration::from_secs(30);

/// Run `f` on an idle thread, or a new one.
pub fn spawn(f: impl FnOnce() + Send + 'static) {
    let mut job: Job = Box::new(f);
    loop {
        let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            // A thread that has left gives the job back.
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(j)) => job = j,
            },
            None => break,
        }
    }
    std::thread::spawn(move || work(job));
}

fn work(mut job: Job) {
    loop {
        job();
        let (tx, rx) = mpsc::channel();
        IDLE.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
        match rx.recv_timeout(LINGER) {
            Ok(j) => job = j,
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_thread_takes_the_next_job() {
        let (tx, rx) = mpsc::channel();
        let t = tx.clone();
        spawn(move || t.send(std::thread::current().id()).unwrap_or(()));
        let first = rx.recv().ok();
        // Give it the moment to park itself as idle.
        while IDLE.lock().map(|i| i.is_empty()).unwrap_or(true) {
            std::thread::yield_now();
        }
        spawn(move || tx.send(std::thread::current().id()).unwrap_or(()));
        assert_eq!(rx.recv().ok(), first);
    }
}
