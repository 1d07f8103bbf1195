//! Processes as tasks: a small single-threaded executor the engine drives.
//!
//! Every command (a `ping`, an `nc -l`, a `sysctl`) runs as a future. The
//! engine polls the tasks that were woken, in the order they were woken, so
//! under the virtual clock a run is exactly repeatable. Tasks sleep on the
//! kernel's timers and, later, on sockets; they never block a thread.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crate::kern::jail::Jid;

/// A process's body: a future yielding its exit status.
pub type TaskFuture = Pin<Box<dyn Future<Output = i32>>>;

/// Exit status of a process stopped with `kill` (128 + SIGTERM).
pub const KILLED: i32 = 143;
/// Exit status of a process stopped by ^C (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

/// Names a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskId {
    idx: u32,
    generation: u64,
}

type ReadyQueue = Arc<Mutex<VecDeque<TaskId>>>;

struct TaskWaker {
    id: TaskId,
    queued: AtomicBool,
    ready: ReadyQueue,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel)
            && let Ok(mut q) = self.ready.lock()
        {
            q.push_back(self.id);
        }
    }
}

struct Task {
    generation: u64,
    /// `None` while it is being polled, or once it is done.
    fut: Option<TaskFuture>,
    waker: Arc<TaskWaker>,
    status: Option<i32>,
    /// Nobody will reap it: free it when it ends.
    detached: bool,
    /// The jail it runs in (`p_ucred->cr_prison`): `jail -r` kills it.
    jail: Jid,
    /// Who waits for it to end (wait(2)).
    watchers: Vec<Waker>,
}

#[derive(Default)]
struct Inner {
    tasks: RefCell<Vec<Option<Task>>>,
    free: RefCell<Vec<u32>>,
    ready: ReadyQueue,
    next_gen: RefCell<u64>,
    /// The task being polled.
    current: std::cell::Cell<Option<TaskId>>,
}

/// The executor; clones are handles to the same one.
#[derive(Clone, Default)]
pub struct Executor {
    inner: Rc<Inner>,
}

impl Executor {
    /// Start a task; it runs the next time the engine polls. Started by
    /// another task (a fork), it is in that task's jail.
    pub fn spawn(&self, fut: TaskFuture) -> TaskId {
        let jail = self.current().and_then(|c| self.jail_of(c)).unwrap_or(Jid::HOST);
        let generation = {
            let mut g = self.inner.next_gen.borrow_mut();
            *g += 1;
            *g
        };
        let mut tasks = self.inner.tasks.borrow_mut();
        let idx = match self.inner.free.borrow_mut().pop() {
            Some(i) => i,
            None => {
                tasks.push(None);
                (tasks.len() - 1) as u32
            }
        };
        let id = TaskId { idx, generation };
        let waker = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(false),
            ready: self.inner.ready.clone(),
        });
        tasks[idx as usize] = Some(Task {
            generation,
            fut: Some(fut),
            waker: waker.clone(),
            status: None,
            detached: false,
            jail,
            watchers: Vec::new(),
        });
        drop(tasks);
        waker.wake_by_ref();
        id
    }

    /// Poll every task that is ready, until none is. Returns how many polls ran.
    pub fn poll_ready(&self) -> usize {
        let mut n = 0;
        loop {
            let next = self.inner.ready.lock().ok().and_then(|mut q| q.pop_front());
            let Some(id) = next else { return n };
            let taken = {
                let mut tasks = self.inner.tasks.borrow_mut();
                match tasks.get_mut(id.idx as usize) {
                    Some(Some(t)) if t.generation == id.generation => t.fut.take().map(|f| (f, t.waker.clone())),
                    _ => None,
                }
            };
            let Some((mut fut, waker)) = taken else { continue };
            waker.queued.store(false, Ordering::Release);
            let w = Waker::from(waker);
            let mut cx = Context::from_waker(&w);
            n += 1;
            self.inner.current.set(Some(id));
            let res = fut.as_mut().poll(&mut cx);
            self.inner.current.set(None);
            let mut tasks = self.inner.tasks.borrow_mut();
            if let Some(Some(t)) = tasks.get_mut(id.idx as usize)
                && t.generation == id.generation
                && t.status.is_none()
            {
                let watchers = match res {
                    Poll::Ready(_) if t.detached => {
                        let w = std::mem::take(&mut t.watchers);
                        tasks[id.idx as usize] = None;
                        self.inner.free.borrow_mut().push(id.idx);
                        w
                    }
                    Poll::Ready(st) => {
                        t.status = Some(st);
                        std::mem::take(&mut t.watchers)
                    }
                    Poll::Pending => {
                        t.fut = Some(fut);
                        Vec::new()
                    }
                };
                drop(tasks);
                watchers.into_iter().for_each(Waker::wake);
                continue;
            }
            // Killed while it ran: drop its future outside the borrow.
            drop(tasks);
            drop(fut);
        }
    }

    /// Its exit status once task `id` has ended (`Some(KILLED)` if it is
    /// unknown); else `w` is woken when it does.
    pub fn poll_status(&self, id: TaskId, w: &Waker) -> Option<i32> {
        let mut tasks = self.inner.tasks.borrow_mut();
        match tasks.get_mut(id.idx as usize) {
            Some(Some(t)) if t.generation == id.generation => {
                if t.status.is_none() && !t.watchers.iter().any(|x| x.will_wake(w)) {
                    t.watchers.push(w.clone());
                }
                t.status
            }
            _ => Some(KILLED),
        }
    }

    /// The task being polled now, if any (the caller of a system call).
    pub fn current(&self) -> Option<TaskId> {
        self.inner.current.get()
    }

    /// The jail a live task runs in.
    pub fn jail_of(&self, id: TaskId) -> Option<Jid> {
        match self.inner.tasks.borrow().get(id.idx as usize) {
            Some(Some(t)) if t.generation == id.generation => Some(t.jail),
            _ => None,
        }
    }

    /// Move a task into a jail (jexec: `jail_attach(2)`).
    pub fn set_jail(&self, id: TaskId, jail: Jid) {
        if let Some(Some(t)) = self.inner.tasks.borrow_mut().get_mut(id.idx as usize)
            && t.generation == id.generation
        {
            t.jail = jail;
        }
    }

    /// Kill every task running in one of `jails` but the caller (as
    /// `jail -r` does, with SIGKILL); how many were killed.
    pub fn kill_jailed(&self, jails: &[Jid]) -> usize {
        let me = self.current();
        let doomed: Vec<TaskId> = self
            .inner
            .tasks
            .borrow()
            .iter()
            .enumerate()
            .filter_map(|(idx, t)| {
                let t = t.as_ref()?;
                let id = TaskId {
                    idx: idx as u32,
                    generation: t.generation,
                };
                (t.status.is_none() && jails.contains(&t.jail) && Some(id) != me).then_some(id)
            })
            .collect();
        doomed.into_iter().filter(|&id| self.kill(id)).count()
    }

    /// The exit status of a finished task; `None` while it runs.
    pub fn status(&self, id: TaskId) -> Option<i32> {
        match self.inner.tasks.borrow().get(id.idx as usize) {
            Some(Some(t)) if t.generation == id.generation => t.status,
            _ => Some(KILLED),
        }
    }

    /// Forget a finished task, returning its status.
    pub fn reap(&self, id: TaskId) -> Option<i32> {
        let st = self.status(id)?;
        let mut tasks = self.inner.tasks.borrow_mut();
        if let Some(slot) = tasks.get_mut(id.idx as usize)
            && slot.as_ref().is_some_and(|t| t.generation == id.generation)
        {
            *slot = None;
            self.inner.free.borrow_mut().push(id.idx);
        }
        Some(st)
    }

    /// Let a task run on with nobody to reap it: it is forgotten when it
    /// ends (now, if it has).
    pub fn detach(&self, id: TaskId) {
        let done = {
            let mut tasks = self.inner.tasks.borrow_mut();
            match tasks.get_mut(id.idx as usize) {
                Some(Some(t)) if t.generation == id.generation => {
                    t.detached = true;
                    t.status.is_some()
                }
                _ => false,
            }
        };
        if done {
            self.reap(id);
        }
    }

    /// Stop a task: its future is dropped (closing whatever it held) and
    /// its status becomes [`KILLED`]. False if it had already finished.
    pub fn kill(&self, id: TaskId) -> bool {
        self.kill_with(id, KILLED)
    }

    /// Stop a task with the given exit status (a detached one is
    /// forgotten at once).
    pub fn kill_with(&self, id: TaskId, status: i32) -> bool {
        let (fut, detached, watchers) = {
            let mut tasks = self.inner.tasks.borrow_mut();
            match tasks.get_mut(id.idx as usize) {
                Some(Some(t)) if t.generation == id.generation && t.status.is_none() => {
                    t.status = Some(status);
                    (t.fut.take(), t.detached, std::mem::take(&mut t.watchers))
                }
                _ => return false,
            }
        };
        drop(fut);
        watchers.into_iter().for_each(Waker::wake);
        if detached {
            self.reap(id);
        }
        true
    }

    /// Stop every task and forget them all (the host is going away: this
    /// breaks the cycle of tasks holding the executor that holds them).
    pub fn kill_all(&self) {
        let futs: Vec<TaskFuture> = {
            let mut tasks = self.inner.tasks.borrow_mut();
            let futs = tasks.iter_mut().flatten().filter_map(|t| t.fut.take()).collect();
            tasks.clear();
            futs
        };
        self.inner.free.borrow_mut().clear();
        drop(futs);
    }

    /// Is any task waiting to be polled?
    pub fn has_ready(&self) -> bool {
        self.inner.ready.lock().map(|q| !q.is_empty()).unwrap_or(false)
    }

    /// Tasks not yet finished.
    pub fn running(&self) -> usize {
        self.inner
            .tasks
            .borrow()
            .iter()
            .flatten()
            .filter(|t| t.status.is_none())
            .count()
    }
}

/// A task woken from other threads (a host program's pipes, a relay):
/// the waker its last poll left, and a nudge for the engine, which may
/// be waiting for the outside world ([`crate::kern::Ext::Wake`]).
pub struct Notify {
    waker: Mutex<Option<Waker>>,
    nudge: Mutex<crate::kern::poller::ExtSender>,
}

impl Notify {
    pub fn new(p: &crate::kern::proc::Proc) -> Arc<Notify> {
        Arc::new(Notify {
            waker: Mutex::new(None),
            nudge: Mutex::new(p.kernel().ext_sender()),
        })
    }

    /// The task polls: wake this waker next time.
    pub fn register(&self, w: &Waker) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(w.clone());
    }

    pub fn wake(&self) {
        if let Some(w) = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            w.wake();
        }
        if let Ok(n) = self.nudge.lock() {
            let _ = n.send(crate::kern::Ext::Wake);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A future that is pending once, then ready.
    struct YieldOnce(bool);
    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    #[test]
    fn tasks_run_in_wake_order_and_report_status() {
        let ex = Executor::default();
        let log = Rc::new(RefCell::new(Vec::new()));
        let ids: Vec<TaskId> = (0..3)
            .map(|i| {
                let log = log.clone();
                ex.spawn(Box::pin(async move {
                    log.borrow_mut().push(i);
                    YieldOnce(false).await;
                    log.borrow_mut().push(10 + i);
                    i
                }))
            })
            .collect();
        ex.poll_ready();
        assert_eq!(*log.borrow(), vec![0, 1, 2, 10, 11, 12]);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(ex.reap(*id), Some(i as i32));
        }
        assert_eq!(ex.running(), 0);
    }

    #[test]
    fn kill_drops_the_future() {
        struct Flag(Rc<RefCell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                *self.0.borrow_mut() = true;
            }
        }
        let ex = Executor::default();
        let dropped = Rc::new(RefCell::new(false));
        let f = Flag(dropped.clone());
        let id = ex.spawn(Box::pin(async move {
            let _f = f;
            std::future::pending::<()>().await;
            0
        }));
        ex.poll_ready();
        assert_eq!(ex.status(id), None);
        assert!(ex.kill(id));
        assert!(*dropped.borrow());
        assert_eq!(ex.status(id), Some(KILLED));
        assert!(!ex.kill(id));
    }
}
