//! sh(1): the shell language of POSIX XCU §2 (as FreeBSD's sh speaks it)
//! over vimage's commands and the host's programs. brush-parser reads the
//! grammar; this interprets it: lists (`;` `&&` `||` `&`), pipelines,
//! redirections (`<` `>` `>>` `2>` `2>&1` here-documents), variables and
//! expansions, `for`/`while`/`until`/`if`/`case`, functions, and job
//! control. The shell is itself a command (`sh -c '...'`, `jexec j1 sh`),
//! so it runs inside jails, in lab timelines and under the daemon alike.

mod builtins;
mod exec;
pub mod expand;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::task::Waker;

use brush_parser::ast;

use crate::kern::proc::{In, Intr, Proc, Stdio};
use crate::kern::task::TaskId;
use crate::{errln, outln};

pub use builtins::BUILTINS;

/// A shell variable.
#[derive(Clone, Debug)]
pub struct Var {
    pub value: String,
    pub exported: bool,
}

/// What ends a list before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Break(u32),
    Continue(u32),
    Return(i32),
    Exit(i32),
}

/// A status, or a change of the flow of control.
pub type Res = Result<i32, Flow>;

/// The foreground job: what ^C interrupts.
pub struct Fg {
    pub tasks: Vec<TaskId>,
    pub intr: Rc<Intr>,
}

/// What a shell shares with whoever drives the engine for it (the
/// `vimage shell` front end): the foreground job, and the news that the
/// virtual clock has nothing left to run.
#[derive(Default)]
pub struct Term {
    pub fg: RefCell<Option<Fg>>,
    stalled: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Term {
    /// Nothing is left to happen under the virtual clock: the waiting
    /// shell gives up on its foreground job. False if nobody was waiting.
    pub fn stall(&self) -> bool {
        let w = self.waker.borrow_mut().take();
        self.stalled.set(w.is_some());
        w.map(Waker::wake).is_some()
    }

    fn take_stall(&self) -> bool {
        self.stalled.replace(false)
    }
}

/// A background job.
#[derive(Clone, Debug)]
pub struct Job {
    pub num: usize,
    pub tasks: Vec<TaskId>,
    pub text: String,
    pub pid: u32,
}

/// A shell's state: variables, functions, positional parameters, jobs.
/// A subshell is a clone.
#[derive(Clone)]
pub struct Sh {
    pub vars: BTreeMap<String, Var>,
    pub funcs: HashMap<String, Rc<ast::FunctionDefinition>>,
    pub args: Vec<String>,
    pub arg0: String,
    /// `$?`.
    pub last: i32,
    /// The status of the last command substitution (an assignment alone
    /// takes it).
    subst_status: Option<i32>,
    /// `$!`.
    pub last_bg: Option<u32>,
    pub jobs: Vec<Job>,
    pub term: Rc<Term>,
    pub interactive: bool,
    pub errexit: bool,
    pub xtrace: bool,
    pub nounset: bool,
    pub noglob: bool,
    pub cwd: PathBuf,
    /// `$$`.
    pub pid: u32,
    /// Commands that failed (not as conditions): `vimage shell`'s status.
    pub failures: u32,
    /// Inside a condition (`if`, `while`, `&&`, `||`, `!`): failures there
    /// are no failures.
    cond: u32,
    /// Set by `exit`.
    pub exit: Option<i32>,
}

fn parser_options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions {
        enable_extended_globbing: false,
        ..Default::default()
    }
}

/// Parse a program.
pub fn parse(text: &str) -> Result<ast::Program, brush_parser::ParseError> {
    brush_parser::Parser::new(std::io::Cursor::new(text), &parser_options()).parse_program()
}

/// Does the parser want more lines (an open quote, `if` without `fi`)?
fn incomplete(e: &brush_parser::ParseError) -> bool {
    use brush_parser::{ParseError, TokenizerError as T};
    match e {
        ParseError::ParsingAtEndOfInput => true,
        ParseError::Tokenizing { inner, .. } => matches!(
            inner,
            T::UnterminatedSingleQuote(_)
                | T::UnterminatedDoubleQuote(_)
                | T::UnterminatedBackquote(_)
                | T::UnterminatedAnsiCQuote(_)
                | T::UnterminatedCommandSubstitution
                | T::UnterminatedExpansion
                | T::UnterminatedVariable
                | T::UnterminatedEscapeSequence
                | T::UnterminatedHereDocuments(..)
        ),
        _ => false,
    }
}

impl Sh {
    /// A new shell of process `p`: the host's environment exported, `$0`
    /// its name, the working directory vimage's.
    pub fn new(p: &Proc, arg0: &str, args: Vec<String>) -> Sh {
        let mut vars: BTreeMap<String, Var> = std::env::vars()
            .map(|(k, v)| {
                (
                    k,
                    Var {
                        value: v,
                        exported: true,
                    },
                )
            })
            .collect();
        vars.entry("IFS".into()).or_insert(Var {
            value: " \t\n".into(),
            exported: false,
        });
        let cwd = p
            .cwd
            .as_deref()
            .map(std::path::Path::to_path_buf)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"));
        vars.insert(
            "PWD".into(),
            Var {
                value: cwd.display().to_string(),
                exported: true,
            },
        );
        Sh {
            vars,
            funcs: HashMap::new(),
            args,
            arg0: arg0.to_string(),
            last: 0,
            subst_status: None,
            last_bg: None,
            jobs: Vec::new(),
            term: Rc::default(),
            interactive: false,
            errexit: false,
            xtrace: false,
            nounset: false,
            noglob: false,
            cwd,
            pid: p.pid,
            failures: 0,
            cond: 0,
            exit: None,
        }
    }

    /// A subshell: the same state, no jobs of its own.
    pub fn subshell(&self) -> Sh {
        Sh {
            jobs: Vec::new(),
            interactive: false,
            exit: None,
            ..self.clone()
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.value.clone())
    }

    pub fn set(&mut self, name: &str, value: &str) {
        match self.vars.get_mut(name) {
            Some(v) => v.value = value.to_string(),
            None => {
                self.vars.insert(
                    name.to_string(),
                    Var {
                        value: value.to_string(),
                        exported: false,
                    },
                );
            }
        }
    }

    /// `$-`.
    fn flags(&self) -> String {
        [
            (self.errexit, 'e'),
            (self.noglob, 'f'),
            (self.interactive, 'i'),
            (self.nounset, 'u'),
            (self.xtrace, 'x'),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, c)| *c)
        .collect()
    }

    /// The environment of a command: exported variables and `extra`.
    fn environ(&self, extra: &[(String, String)]) -> Rc<[(String, String)]> {
        let mut env: BTreeMap<&str, &str> = self
            .vars
            .iter()
            .filter(|(_, v)| v.exported)
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
            .collect();
        for (k, v) in extra {
            env.insert(k, v);
        }
        env.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Run a program text as sh reads a script: each command once it is
    /// complete, so those before a syntax error have run; the error ends
    /// the script (status 2).
    pub async fn run_text(&mut self, p: &Proc, text: &str, io: &Stdio) -> Res {
        let mut acc = String::new();
        let mut st = self.last;
        let (mut lineno, mut start) = (0, 1);
        let mut lines = text.split_inclusive('\n').peekable();
        while let Some(line) = lines.next() {
            lineno += 1;
            if acc.is_empty() {
                start = lineno;
            }
            acc.push_str(line);
            let last = lines.peek().is_none();
            let prog = match parse(&acc) {
                Ok(prog) => prog,
                Err(e) if incomplete(&e) && !last => continue,
                Err(e) => {
                    errln!(io, "{}: line {start}: {}", self.arg0, syntax(&e));
                    self.failures += 1;
                    self.last = 2;
                    return Ok(2);
                }
            };
            acc.clear();
            st = self.program(p, &prog, io).await?;
            if !self.interactive {
                self.reap_jobs(p, io);
            }
            if self.exit.is_some() {
                break;
            }
        }
        Ok(st)
    }

    async fn program(&mut self, p: &Proc, prog: &ast::Program, io: &Stdio) -> Res {
        let mut st = self.last;
        for cc in &prog.complete_commands {
            st = self.list(p, cc, io).await?;
            if self.exit.is_some() {
                break;
            }
        }
        Ok(st)
    }

    /// Read commands from `io.stdin` and run each when complete; at a
    /// terminal, with prompts and job notices. The status of the last.
    pub async fn run_input(&mut self, p: &Proc, io: &Stdio) -> i32 {
        let tty = io.stdin.as_tty().cloned();
        let mut text = String::new();
        loop {
            if text.is_empty() {
                self.reap_jobs(p, io);
            }
            if let Some(t) = &tty {
                let ps = if text.is_empty() {
                    self.ps1(p)
                } else {
                    self.get("PS2").unwrap_or("> ".into())
                };
                t.set_prompt(&ps);
                t.set_names(self.names(p));
            }
            let Some(line) = io.stdin.read_line().await else {
                if tty.is_some() {
                    outln!(io);
                }
                break;
            };
            // ^C at the prompt: forget the line.
            p.intr.take();
            text.push_str(&line);
            text.push('\n');
            let prog = match parse(&text) {
                Ok(prog) => prog,
                Err(e) if incomplete(&e) => continue,
                Err(e) => {
                    errln!(io, "{}: {}", self.arg0, syntax(&e));
                    self.failures += 1;
                    self.last = 2;
                    text.clear();
                    continue;
                }
            };
            text.clear();
            if let Err(Flow::Exit(s)) = self.program(p, &prog, io).await {
                self.exit = Some(s);
            }
            if self.exit.is_some() {
                break;
            }
        }
        self.exit.unwrap_or(self.last)
    }

    /// The prompt: `$PS1`, else the jail's hostname and `# `.
    fn ps1(&self, p: &Proc) -> String {
        self.get("PS1")
            .unwrap_or_else(|| format!("{}# ", p.kernel().prison_hostname(p.jid)))
    }

    /// What tab completion offers: commands, jails, interfaces.
    fn names(&self, p: &Proc) -> crate::kern::tty::Names {
        let mut commands: Vec<String> = super::COMMANDS.iter().map(|c| c.name.to_string()).collect();
        commands.extend(BUILTINS.iter().map(|(n, _)| n.to_string()));
        commands.extend(self.funcs.keys().cloned());
        commands.sort();
        let mut others: Vec<String> = {
            let k = p.kernel();
            k.prison_list(p.jid)
                .into_iter()
                .map(|j| k.prison_name(p.jid, j))
                .collect()
        };
        if let Ok(ifs) = p.vnet(|_, v| {
            v.builtin(crate::net::ifnet::IF)
                .list
                .iter()
                .map(|i| i.name.clone())
                .collect::<Vec<_>>()
        }) {
            others.extend(ifs);
        }
        others.sort();
        crate::kern::tty::Names { commands, others }
    }

    /// Forget finished jobs; at a terminal, say how they ended.
    pub fn reap_jobs(&mut self, p: &Proc, io: &Stdio) {
        let tasks = p.tasks();
        let mut keep = Vec::new();
        for j in std::mem::take(&mut self.jobs) {
            let sts: Vec<Option<i32>> = j.tasks.iter().map(|&t| tasks.status(t)).collect();
            if sts.iter().any(Option::is_none) {
                keep.push(j);
                continue;
            }
            for &t in &j.tasks {
                tasks.reap(t);
            }
            let st = sts.last().copied().flatten().unwrap_or(0);
            if st != 0 && st != crate::kern::task::KILLED {
                self.failures += 1;
            }
            if self.interactive {
                outln!(io, "[{}]  {:<22} {}", j.num, job_state(Some(st)), j.text);
            }
        }
        self.jobs = keep;
    }
}

/// How `jobs` words a job's state.
fn job_state(st: Option<i32>) -> String {
    match st {
        None => "Running".into(),
        Some(0) => "Done".into(),
        Some(crate::kern::task::KILLED) => "Terminated".into(),
        Some(crate::kern::task::INTERRUPTED) => "Interrupt".into(),
        Some(n) => format!("Exit {n}"),
    }
}

/// A parse error, in one line without the parser's positions.
fn syntax(e: &brush_parser::ParseError) -> String {
    match e {
        brush_parser::ParseError::Tokenizing { inner, .. } => {
            let s = inner.to_string();
            let s = s.split(" at ").next().unwrap_or(&s).to_string();
            format!("syntax error: {s}")
        }
        brush_parser::ParseError::ParsingAtEndOfInput => "syntax error: unexpected end of file".into(),
        brush_parser::ParseError::ParsingNear(_) => "syntax error".into(),
    }
}

/// command interpreter (sh(1))
#[derive(clap::Parser, Debug)]
#[command(name = "sh", disable_help_flag = true, disable_version_flag = true)]
pub struct ShArgs {
    /// Exit at once if a command fails.
    #[arg(short = 'e')]
    errexit: bool,
    /// Treat an unset variable as an error.
    #[arg(short = 'u')]
    nounset: bool,
    /// Print each command before it runs.
    #[arg(short = 'x')]
    xtrace: bool,
    /// Run this string; then `name` is $0 and the args $1...
    #[arg(short = 'c', value_name = "string")]
    command: Option<String>,
    /// A script file and its arguments (none: commands from standard input).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "file [arg ...]")]
    args: Vec<String>,
}

/// `sh [-c string [name [arg ...]] | file [arg ...]]`: the shell as a
/// command. With neither, commands come from standard input (with
/// prompts at a terminal: an interactive shell).
pub async fn sh(p: Proc, argv: Vec<String>) -> i32 {
    let mut i = 1;
    let mut cmd: Option<String> = None;
    let mut opts: Vec<char> = Vec::new();
    while let Some(a) = argv.get(i) {
        match a.as_str() {
            "-c" => {
                let Some(c) = argv.get(i + 1) else {
                    errln!(p, "sh: -c: option requires an argument");
                    return 2;
                };
                cmd = Some(c.clone());
                i += 2;
                break;
            }
            "--" => {
                i += 1;
                break;
            }
            o if o.starts_with('-') && o.len() > 1 => {
                let flags: Vec<char> = o[1..].chars().collect();
                if let Some(bad) = flags.iter().find(|c| !"efiuxs".contains(**c)) {
                    errln!(p, "sh: -{bad}: invalid option");
                    errln!(p, "usage: sh [-efiux] [-c string | file] [arg ...]");
                    return 2;
                }
                opts.extend(flags);
                i += 1;
            }
            _ => break,
        }
    }
    let rest: Vec<String> = argv.get(i..).map(<[String]>::to_vec).unwrap_or_default();
    let io = Stdio {
        stdin: p.stdin.clone(),
        stdout: p.stdout.clone(),
        stderr: p.stderr.clone(),
    };
    let (arg0, args, text) = match (cmd, rest.split_first()) {
        (Some(c), Some((name, args))) => (name.clone(), args.to_vec(), Some(c)),
        (Some(c), None) => ("sh".to_string(), vec![], Some(c)),
        (None, Some((file, args))) if !opts.contains(&'s') => {
            let path = match &p.cwd {
                Some(c) => c.join(file),
                None => PathBuf::from(file),
            };
            match std::fs::read_to_string(&path) {
                Ok(t) => (file.clone(), args.to_vec(), Some(t)),
                Err(e) => {
                    errln!(p, "sh: cannot open {file}: {}", crate::userland::strerror(&e));
                    return 127;
                }
            }
        }
        (None, _) => ("sh".to_string(), rest.clone(), None),
    };
    let mut sh = Sh::new(&p, &arg0, args);
    for o in opts {
        sh.set_opt(o, true);
    }
    // ^C comes to the shell, which passes it to its foreground job.
    p.intr.catch();
    match text {
        Some(t) => match sh.run_text(&p, &t, &io).await {
            Ok(st) | Err(Flow::Exit(st) | Flow::Return(st)) => sh.exit.unwrap_or(st),
            Err(_) => sh.last,
        },
        None => {
            sh.interactive = io.stdin.as_tty().is_some();
            sh.run_input(&p, &io).await
        }
    }
}

impl Stdio {
    /// An empty input, for jobs in the background.
    pub fn background(&self) -> Stdio {
        Stdio {
            stdin: In::null(),
            ..self.clone()
        }
    }
}
