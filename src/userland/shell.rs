//! The vimage shell: the same commands without the `vimage` prefix, typed
//! at a prompt (line editing, history) or read as a script from standard
//! input, one command per line, `#` comments.
//!
//! What lab scripts need from sh(1): `CMD &` (a background job), `jobs`,
//! `wait [%N]`, `kill %N`, `CMD > FILE`, `CMD >> FILE`, `CMD < FILE`,
//! `exit [N]`. Every error is one line and the shell goes on; its exit
//! status is non-zero if any command failed.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, IsTerminal};
use std::sync::mpsc;

use crate::host::Host;
use crate::kern::proc::{In, Out, Stdio};
use crate::kern::task::{KILLED, TaskId};

/// The shell's own commands, for `help`.
pub const BUILTINS: &[(&str, &str)] = &[
    ("jobs", "list background jobs"),
    ("wait", "wait for background jobs: wait [%N]"),
    ("kill", "stop a background job: kill %N"),
    ("exit", "leave the shell: exit [STATUS]"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// An unquoted `&`, `<`, `>` or `>>`.
    Op(&'static str),
}

/// Split a line into words and operators, sh(1)-style: '...' quotes
/// literally, "..." quotes with `\` escapes, `\` escapes one character, and
/// a `#` at the start of a word begins a comment.
fn tokenize(line: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if let Some(w) = cur.take() {
                    toks.push(Tok::Word(w));
                }
            }
            '#' if cur.is_none() => break,
            '&' | '<' | '>' => {
                if let Some(w) = cur.take() {
                    toks.push(Tok::Word(w));
                }
                let op = match c {
                    '&' => "&",
                    '<' => "<",
                    _ if chars.peek() == Some(&'>') => {
                        chars.next();
                        ">>"
                    }
                    _ => ">",
                };
                toks.push(Tok::Op(op));
            }
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => w.push(ch),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => w.push(e),
                            Some(e) => {
                                w.push('\\');
                                w.push(e);
                            }
                            None => return Err("unterminated quoted string".into()),
                        },
                        Some(ch) => w.push(ch),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(e) => cur.get_or_insert_with(String::new).push(e),
                None => return Err("trailing backslash".into()),
            },
            _ => cur.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = cur {
        toks.push(Tok::Word(w));
    }
    Ok(toks)
}

/// Split a line into words; operators are refused (for
/// [`Host::exec`], which runs one plain command).
pub fn split(line: &str) -> Result<Vec<String>, String> {
    tokenize(line)?
        .into_iter()
        .map(|t| match t {
            Tok::Word(w) => Ok(w),
            Tok::Op(o) => Err(format!("syntax error: '{o}' is for the shell")),
        })
        .collect()
}

/// One parsed command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Line {
    pub argv: Vec<String>,
    pub stdin: Option<String>,
    /// A file, and whether to append to it.
    pub stdout: Option<(String, bool)>,
    pub background: bool,
}

/// Parse a command line with its redirections and `&`.
pub fn parse(line: &str) -> Result<Line, String> {
    let mut l = Line::default();
    let mut toks = tokenize(line)?.into_iter().peekable();
    while let Some(t) = toks.next() {
        match t {
            Tok::Word(w) => {
                if l.background {
                    return Err("syntax error: words after '&'".into());
                }
                l.argv.push(w);
            }
            Tok::Op("&") => {
                if l.argv.is_empty() || l.background {
                    return Err("syntax error near unexpected token '&'".into());
                }
                l.background = true;
            }
            Tok::Op(op) => {
                let Some(Tok::Word(file)) = toks.next() else {
                    return Err(format!("syntax error: '{op}' needs a file name"));
                };
                match op {
                    "<" => l.stdin = Some(file),
                    ">" => l.stdout = Some((file, false)),
                    _ => l.stdout = Some((file, true)),
                }
            }
        }
    }
    Ok(l)
}

/// The streams of a command line: its redirections, else `out` and `err`.
fn stdio_for(l: &Line, out: &Out, err: &Out) -> Result<Stdio, String> {
    let stdin = match &l.stdin {
        Some(f) => In::new(File::open(f).map_err(|e| format!("vimage: {f}: {e}"))?),
        None => In::null(),
    };
    let stdout = match &l.stdout {
        Some((f, append)) => Out::new(
            OpenOptions::new()
                .write(true)
                .create(true)
                .append(*append)
                .truncate(!*append)
                .open(f)
                .map_err(|e| format!("vimage: {f}: {e}"))?,
        ),
        None => out.clone(),
    };
    Ok(Stdio {
        stdin,
        stdout,
        stderr: err.clone(),
    })
}

/// A command line made ready to start as a process: its words and its
/// streams (redirections opened, else `out` and `err`). What a lab's
/// timeline does; a trailing `&` changes nothing. `None` for a blank line.
pub fn prepare(line: &str, out: &Out, err: &Out) -> Result<Option<(Vec<String>, Stdio)>, String> {
    let l = parse(line).map_err(|e| format!("vimage: {e}"))?;
    if l.argv.is_empty() {
        return Ok(None);
    }
    let io = stdio_for(&l, out, err)?;
    Ok(Some((l.argv, io)))
}

struct Job {
    num: usize,
    task: TaskId,
    text: String,
}

/// A shell session over a host.
pub struct Shell<'h> {
    host: &'h Host,
    jobs: Vec<Job>,
    next_job: usize,
    interactive: bool,
    /// Commands that failed so far.
    failures: u32,
    /// The exit status of the last command (`$?`).
    last: i32,
    exit: Option<i32>,
    /// Where the shell's own messages and foreground output go.
    out: Out,
    err: Out,
}

impl<'h> Shell<'h> {
    pub fn new(host: &'h Host, out: Out, err: Out) -> Shell<'h> {
        Shell {
            host,
            jobs: Vec::new(),
            next_job: 1,
            interactive: false,
            failures: 0,
            last: 0,
            exit: None,
            out,
            err,
        }
    }

    /// The shell's exit status so far.
    pub fn status(&self) -> i32 {
        self.exit.unwrap_or((self.failures > 0) as i32)
    }

    /// Has `exit` been run?
    pub fn exited(&self) -> bool {
        self.exit.is_some()
    }

    fn fail(&mut self, msg: &str) {
        self.err.write_fmt(format_args!("{msg}\n"));
        self.failures += 1;
        self.last = 1;
    }

    /// The exit status of the last command run (`$?`).
    pub fn last_status(&self) -> i32 {
        self.last
    }

    /// Run one line; false if it failed.
    pub fn run_line(&mut self, line: &str) -> bool {
        let before = self.failures;
        self.line(line);
        self.failures == before
    }

    fn line(&mut self, line: &str) {
        self.last = 0;
        let l = match parse(line) {
            Ok(l) => l,
            Err(e) => {
                self.fail(&format!("vimage: {e}"));
                self.last = 2;
                return;
            }
        };
        if l.argv.is_empty() {
            return;
        }
        match l.argv[0].as_str() {
            "jobs" => self.jobs_list(),
            "wait" => self.wait(l.argv.get(1).map(String::as_str)),
            "kill" => self.kill(&l.argv[1..]),
            "exit" => match l.argv.get(1).map(|s| s.parse::<i32>()) {
                None => self.exit = Some((self.failures > 0) as i32),
                Some(Ok(n)) => self.exit = Some(n),
                Some(Err(_)) => self.fail("exit: numeric argument required"),
            },
            _ => self.command(l),
        }
        self.reap();
    }

    fn command(&mut self, l: Line) {
        let io = match stdio_for(&l, &self.out, &self.err) {
            Ok(io) => io,
            Err(e) => return self.fail(&e),
        };
        let text = l.argv.join(" ");
        let (task, intr) = self.host.spawn_fg(l.argv, io);
        if l.background {
            let num = self.next_job;
            self.next_job += 1;
            if self.interactive {
                self.out.write_fmt(format_args!("[{num}] {text}\n"));
            }
            self.jobs.push(Job { num, task, text });
            return;
        }
        match self.host.wait_fg(task, &intr) {
            Ok(0) => {}
            Ok(st) => {
                self.failures += 1;
                self.last = st;
            }
            Err(e) => {
                self.host.tasks().kill(task);
                self.host.tasks().reap(task);
                self.fail(&format!("vimage: {text}: {e}"));
            }
        }
    }

    /// Forget finished jobs, noting failures (and, at a terminal, saying so).
    fn reap(&mut self) {
        let tasks = self.host.tasks();
        let mut keep = Vec::new();
        for j in std::mem::take(&mut self.jobs) {
            match tasks.status(j.task) {
                None => keep.push(j),
                Some(st) => {
                    tasks.reap(j.task);
                    if st != 0 && st != KILLED {
                        self.failures += 1;
                    }
                    if self.interactive {
                        let how = match st {
                            0 => "Done".to_string(),
                            KILLED => "Terminated".to_string(),
                            n => format!("Exit {n}"),
                        };
                        self.out.write_fmt(format_args!("[{}]  {how:<22} {}\n", j.num, j.text));
                    }
                }
            }
        }
        self.jobs = keep;
    }

    fn jobs_list(&mut self) {
        for j in &self.jobs {
            let st = match self.host.tasks().status(j.task) {
                None => "Running".to_string(),
                Some(0) => "Done".to_string(),
                Some(n) => format!("Exit {n}"),
            };
            self.out.write_fmt(format_args!("[{}]  {st:<22} {} &\n", j.num, j.text));
        }
    }

    fn job(&mut self, spec: &str) -> Option<usize> {
        let n = spec.strip_prefix('%').and_then(|n| n.parse::<usize>().ok());
        let idx = n.and_then(|n| self.jobs.iter().position(|j| j.num == n));
        if idx.is_none() {
            self.fail(&format!("vimage: {spec}: no such job"));
        }
        idx
    }

    fn wait(&mut self, spec: Option<&str>) {
        let tasks: Vec<TaskId> = match spec {
            Some(s) => match self.job(s) {
                Some(i) => vec![self.jobs[i].task],
                None => return,
            },
            None => self.jobs.iter().map(|j| j.task).collect(),
        };
        for t in tasks {
            if self.host.tasks().status(t).is_some() {
                continue;
            }
            // wait() reaps; put the status back where reap() finds it.
            if let Err(e) = self.wait_keep(t) {
                self.fail(&format!("vimage: wait: {e}"));
                return;
            }
        }
    }

    /// Wait for job `t` (left for reap() to collect); a ^C ends the wait.
    fn wait_keep(&mut self, t: TaskId) -> Result<(), crate::host::Stalled> {
        use std::sync::atomic::Ordering::Relaxed;
        self.host
            .run_until(|| self.host.tasks().status(t).is_some() || crate::kern::SIGINT.load(Relaxed))?;
        if crate::kern::SIGINT.swap(false, Relaxed) {
            self.failures += 1;
            self.last = crate::kern::task::INTERRUPTED;
        }
        Ok(())
    }

    fn kill(&mut self, args: &[String]) {
        let [spec] = args else {
            return self.fail("kill: usage: kill %JOB");
        };
        if let Some(i) = self.job(spec) {
            self.host.tasks().kill(self.jobs[i].task);
        }
    }

    /// Run a script: every line of `input`.
    pub fn run_script(&mut self, input: impl BufRead) {
        for line in input.lines() {
            match line {
                Ok(l) => {
                    self.run_line(&l);
                }
                Err(e) => return self.fail(&format!("vimage: {e}")),
            }
            if self.exited() {
                break;
            }
        }
    }

    /// Interactive: a prompt with line editing and history, read on another
    /// thread so the engine keeps running (real clock) while you type.
    pub fn run_interactive(&mut self) {
        self.interactive = true;
        let (want_tx, want_rx) = mpsc::channel::<()>();
        let (line_tx, line_rx) = mpsc::channel::<Option<String>>();
        let nudge = self.host.kernel().ext_sender();
        std::thread::spawn(move || {
            let Ok(mut rl) = rustyline::DefaultEditor::new() else {
                let _ = line_tx.send(None);
                return;
            };
            while want_rx.recv().is_ok() {
                let line = match rl.readline("vimage# ") {
                    Ok(l) => {
                        let _ = rl.add_history_entry(l.as_str());
                        Some(l)
                    }
                    Err(rustyline::error::ReadlineError::Interrupted) => Some(String::new()),
                    Err(_) => None,
                };
                if line_tx.send(line).is_err() || nudge.send(crate::kern::Ext::Wake).is_err() {
                    return;
                }
            }
        });
        loop {
            if want_tx.send(()).is_err() {
                break;
            }
            match self.host.run_until_message(&line_rx) {
                Some(Some(l)) => {
                    // A ^C at the prompt was rustyline's, not a command's.
                    crate::kern::SIGINT.store(false, std::sync::atomic::Ordering::Relaxed);
                    self.run_line(&l);
                }
                _ => break,
            }
            if self.exited() {
                break;
            }
        }
    }
}

/// `vimage shell`: read from a terminal interactively, or a script.
pub fn main(host: &Host, script: Option<&str>) -> i32 {
    let mut sh = Shell::new(host, Out::stdout(), Out::stderr());
    match script {
        Some(path) => match File::open(path) {
            Ok(f) => sh.run_script(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("vimage: {path}: {e}");
                return 1;
            }
        },
        None if std::io::stdin().is_terminal() => sh.run_interactive(),
        None => sh.run_script(std::io::stdin().lock()),
    }
    sh.status()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            split("a  'b c' \"d \\\"e\\\"\" f\\ g # comment"),
            Ok(vec!["a".into(), "b c".into(), "d \"e\"".into(), "f g".into()])
        );
        assert_eq!(split("x=#notcomment"), Ok(vec!["x=#notcomment".into()]));
        assert!(split("'open").is_err());
        assert!(split("a & b").is_err());
    }

    #[test]
    fn redirections_and_background() {
        let l = parse("ping -c 3 10.0.0.2 > out.txt &").unwrap_or_default();
        assert_eq!(l.argv, vec!["ping", "-c", "3", "10.0.0.2"]);
        assert_eq!(l.stdout, Some(("out.txt".into(), false)));
        assert!(l.background);
        let l = parse("nc -l 80 >>log <in").unwrap_or_default();
        assert_eq!(l.stdout, Some(("log".into(), true)));
        assert_eq!(l.stdin, Some("in".into()));
        assert!(parse("& ls").is_err());
        assert!(parse("ls >").is_err());
        assert!(parse("a & b").is_err());
        assert_eq!(parse("   # only a comment").map(|l| l.argv.len()), Ok(0));
    }
}
