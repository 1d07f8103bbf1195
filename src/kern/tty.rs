//! The terminal (tty): line editing and history on a thread of its own
//! (rustyline), lines handed to whichever process reads it, so the engine
//! runs on (real clock) while a person types. A process reading it sets
//! the prompt; a shell's tab completion draws on names the shell gives.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context as RlContext, Helper};

use crate::kern::Ext;

/// What the shell offers for completion: command names first, then the
/// names of jails and interfaces.
#[derive(Clone, Default)]
pub struct Names {
    pub commands: Vec<String>,
    pub others: Vec<String>,
}

struct Complete(Arc<Mutex<Names>>);

impl Completer for Complete {
    type Candidate = Pair;
    fn complete(&self, line: &str, pos: usize, _: &RlContext<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos].rfind([' ', '\t', '|', ';', '&', '(']).map_or(0, |i| i + 1);
        let word = &line[start..pos];
        let first = line[..start].trim_end().is_empty()
            || line[..start].trim_end().ends_with(['|', ';', '&', '('])
            || line[..start].trim_end() == "jexec"
            || line[..start].trim_end().ends_with(" jexec");
        let names = self.0.lock().map(|n| n.clone()).unwrap_or_default();
        let pool: Vec<&String> = if first && !line[..start].trim_end().ends_with("jexec") {
            names.commands.iter().collect()
        } else {
            names.others.iter().chain(&names.commands).collect()
        };
        let mut out: Vec<Pair> = pool
            .into_iter()
            .filter(|c| c.starts_with(word))
            .map(|c| Pair {
                display: c.clone(),
                replacement: format!("{c} "),
            })
            .collect();
        out.dedup_by(|a, b| a.display == b.display);
        Ok((start, out))
    }
}

impl Hinter for Complete {
    type Hint = String;
}
impl Highlighter for Complete {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(&'s self, prompt: &'p str, _: bool) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}
impl Validator for Complete {}
impl Helper for Complete {}

/// The terminal; see the module docs.
pub struct Tty {
    ask: mpsc::Sender<String>,
    lines: mpsc::Receiver<Option<String>>,
    waker: Arc<Mutex<Option<Waker>>>,
    asked: Cell<bool>,
    buf: RefCell<VecDeque<u8>>,
    eof: Cell<bool>,
    prompt: RefCell<String>,
    names: Arc<Mutex<Names>>,
    /// The kernel's count of waits on the outside world.
    outside: Rc<Cell<usize>>,
}

/// Where history is kept between sessions: $VIMAGE_HISTORY, else
/// ~/.vimage_history.
pub fn history_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VIMAGE_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".vimage_history"))
}

impl Tty {
    /// Open the terminal: `nudge` wakes the engine when a line comes.
    pub fn open(nudge: super::poller::ExtSender, outside: Rc<Cell<usize>>) -> Tty {
        let (ask, ask_rx) = mpsc::channel::<String>();
        let (line_tx, lines) = mpsc::channel::<Option<String>>();
        let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
        let names: Arc<Mutex<Names>> = Arc::default();
        let (w2, n2) = (waker.clone(), names.clone());
        std::thread::spawn(move || {
            let config = rustyline::Config::builder()
                .completion_type(rustyline::CompletionType::List)
                .auto_add_history(true)
                .build();
            let Ok(mut rl) = rustyline::Editor::<Complete, rustyline::history::DefaultHistory>::with_config(config)
            else {
                let _ = line_tx.send(None);
                return;
            };
            rl.set_helper(Some(Complete(n2)));
            let hist = history_file();
            if let Some(h) = &hist {
                let _ = rl.load_history(h);
            }
            while let Ok(prompt) = ask_rx.recv() {
                let line = match rl.readline(&prompt) {
                    Ok(l) => Some(l),
                    Err(rustyline::error::ReadlineError::Interrupted) => Some(String::new()),
                    Err(_) => None,
                };
                if let Some(h) = &hist {
                    let _ = rl.save_history(h);
                }
                let end = line.is_none();
                if line_tx.send(line).is_err() {
                    return;
                }
                if let Some(w) = w2.lock().ok().and_then(|mut w| w.take()) {
                    w.wake();
                }
                if nudge.send(Ext::Wake).is_err() || end {
                    return;
                }
            }
        });
        Tty {
            ask,
            lines,
            waker,
            asked: Cell::new(false),
            buf: RefCell::default(),
            eof: Cell::new(false),
            prompt: RefCell::default(),
            names,
            outside,
        }
    }

    /// The prompt for the next line read.
    pub fn set_prompt(&self, p: &str) {
        *self.prompt.borrow_mut() = p.to_string();
    }

    /// The names tab completion offers.
    pub fn set_names(&self, n: Names) {
        if let Ok(mut g) = self.names.lock() {
            *g = n;
        }
    }

    /// Is a process waiting for a line (so the engine should wait for the
    /// person at the keyboard rather than give up)?
    pub fn waiting(&self) -> bool {
        self.asked.get()
    }

    fn answered(&self) {
        if self.asked.replace(false) {
            self.outside.set(self.outside.get().saturating_sub(1));
        }
    }

    /// Read what the person typed: a line at a time, 0 at end of input.
    pub fn poll_read(&self, cx: &Context<'_>, out: &mut [u8]) -> Poll<std::io::Result<usize>> {
        loop {
            {
                let mut buf = self.buf.borrow_mut();
                if !buf.is_empty() || self.eof.get() {
                    let n = out.len().min(buf.len());
                    for (o, b) in out.iter_mut().zip(buf.drain(..n)) {
                        *o = b;
                    }
                    return Poll::Ready(Ok(n));
                }
            }
            if !self.asked.get() {
                let prompt = std::mem::take(&mut *self.prompt.borrow_mut());
                if self.ask.send(prompt).is_err() {
                    self.eof.set(true);
                    continue;
                }
                self.asked.set(true);
                self.outside.set(self.outside.get() + 1);
            }
            if let Ok(mut w) = self.waker.lock() {
                *w = Some(cx.waker().clone());
            }
            match self.lines.try_recv() {
                Ok(Some(l)) => {
                    self.answered();
                    let mut buf = self.buf.borrow_mut();
                    buf.extend(l.bytes());
                    buf.push_back(b'\n');
                }
                Ok(None) | Err(mpsc::TryRecvError::Disconnected) => {
                    self.answered();
                    self.eof.set(true);
                }
                Err(mpsc::TryRecvError::Empty) => return Poll::Pending,
            }
        }
    }
}
