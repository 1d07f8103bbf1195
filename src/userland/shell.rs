//! The vimage shell's front end: sh(1) ([`crate::userland::sh`]) run as a
//! process of the host while this drives the engine — at a terminal
//! (`vimage shell`: line editing, history kept between sessions, tab
//! completion of commands, jails and interfaces, Ctrl-C to the foreground
//! command), on a script, or one line at a time ([`Host::exec`]). Its
//! status is non-zero if any command failed.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, IsTerminal};
use std::rc::Rc;

use crate::host::Host;
use crate::kern::jail::Jid;
use crate::kern::proc::{In, Out, Stdio};
use crate::kern::tty::Tty;
use crate::userland::sh::{Flow, Sh};

pub use crate::userland::sh::BUILTINS;

/// A shell session over a host.
pub struct Shell<'h> {
    host: &'h Host,
    /// The shell's state between runs (out while it runs).
    sh: Rc<RefCell<Option<Sh>>>,
    out: Out,
    err: Out,
}

/// What a run reads.
enum Input {
    Text(String),
    Tty(Rc<Tty>),
}

impl<'h> Shell<'h> {
    pub fn new(host: &'h Host, out: Out, err: Out) -> Shell<'h> {
        let p = host.proc(Jid::HOST, Stdio::null_all());
        Shell {
            host,
            sh: Rc::new(RefCell::new(Some(Sh::new(&p, "vimage", Vec::new())))),
            out,
            err,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&Sh) -> R) -> R {
        match &*self.sh.borrow() {
            Some(sh) => f(sh),
            None => f(&Sh::new(
                &self.host.proc(Jid::HOST, Stdio::null_all()),
                "vimage",
                Vec::new(),
            )),
        }
    }

    /// The shell's exit status so far: `exit`'s, else 1 if anything failed.
    pub fn status(&self) -> i32 {
        self.with(|sh| sh.exit.unwrap_or(i32::from(sh.failures > 0)))
    }

    /// Has `exit` been run?
    pub fn exited(&self) -> bool {
        self.with(|sh| sh.exit.is_some())
    }

    /// The exit status of the last command run (`$?`).
    pub fn last_status(&self) -> i32 {
        self.with(|sh| sh.exit.unwrap_or(sh.last))
    }

    /// Run one line (or several); false if a command failed.
    pub fn run_line(&mut self, line: &str) -> bool {
        let before = self.with(|sh| sh.failures);
        self.drive(Input::Text(line.to_string()));
        self.with(|sh| sh.failures) == before
    }

    /// Run a script: all of `input`.
    pub fn run_script(&mut self, mut input: impl BufRead) {
        let mut text = String::new();
        if let Err(e) = input.read_to_string(&mut text) {
            self.err.write_fmt(format_args!("vimage: {e}\n"));
            return;
        }
        self.drive(Input::Text(text));
    }

    /// Interactive: prompts, line editing, history and completion at the
    /// terminal, on a thread of its own so the real clock runs on while
    /// you type.
    pub fn run_interactive(&mut self) {
        let k = self.host.kernel();
        let tty = Rc::new(Tty::open(k.ext_sender(), k.outside.clone()));
        drop(k);
        self.drive(Input::Tty(tty));
    }

    /// Run the shell as a process until it is done, passing ^C to it and
    /// telling it when the virtual clock has nothing left to run.
    fn drive(&mut self, input: Input) {
        let mut sh = match self.sh.borrow_mut().take() {
            Some(sh) => sh,
            None => Sh::new(&self.host.proc(Jid::HOST, Stdio::null_all()), "vimage", Vec::new()),
        };
        let stdin = match &input {
            Input::Tty(t) => In::tty(t.clone()),
            Input::Text(_) => In::null(),
        };
        let io = Stdio {
            stdin,
            stdout: self.out.clone(),
            stderr: self.err.clone(),
        };
        let p = self.host.proc(Jid::HOST, io.clone());
        p.intr.catch();
        let term = sh.term.clone();
        let slot = self.sh.clone();
        let p2 = p.clone();
        let id = self.host.tasks().spawn(Box::pin(async move {
            let st = match input {
                Input::Text(t) => match sh.run_text(&p2, &t, &io).await {
                    Ok(s) => s,
                    Err(Flow::Exit(s)) => {
                        sh.exit = Some(s);
                        s
                    }
                    Err(_) => sh.last,
                },
                Input::Tty(_) => {
                    sh.interactive = true;
                    sh.run_input(&p2, &io).await
                }
            };
            *slot.borrow_mut() = Some(sh);
            st
        }));
        loop {
            match self.host.wait_fg(id, &p.intr) {
                Ok(_) => break,
                Err(e) if !term.stall() => {
                    self.host.tasks().kill(id);
                    self.host.tasks().reap(id);
                    self.err.write_fmt(format_args!("vimage: {e}\n"));
                    break;
                }
                Err(_) => {}
            }
        }
    }
}

/// The words of a line that needs no shell (no quotes, operators or
/// expansions): what runs it without parsing.
pub fn plain_words(line: &str) -> Option<Vec<String>> {
    let plain = line
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " \t_.,:/=+@%-".contains(c));
    plain.then(|| line.split_whitespace().map(String::from).collect())
}

/// `vimage shell`: read from a terminal interactively, or a script.
pub fn main(host: &Host, script: Option<&str>) -> i32 {
    let mut sh = Shell::new(host, Out::stdout(), Out::stderr());
    match script {
        Some(path) => match File::open(path) {
            Ok(f) => sh.run_script(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("vimage: {path}: {}", crate::userland::strerror(&e));
                return 1;
            }
        },
        None if std::io::stdin().is_terminal() => {
            let clock = match host.clock_kind() {
                crate::ClockKind::Real => "real clock",
                crate::ClockKind::Virtual => "virtual clock: time passes only when something waits",
            };
            println!("vimage shell ({clock}). Ctrl-C stops the foreground command; exit or Ctrl-D leaves.");
            sh.run_interactive()
        }
        None => sh.run_script(std::io::stdin().lock()),
    }
    sh.status()
}
