//! The shell's own commands (XCU §2.14 and sh(1)'s builtins): what must
//! change the shell itself — its variables, directory, options, flow of
//! control and jobs — or is wanted in every script (`test`, `read`).

use std::task::Poll;

use super::exec::Prepared;
use super::{Flow, Res, Sh, job_state};
use crate::kern::proc::{Proc, Stdio};
use crate::kern::task::{INTERRUPTED, TaskId};
use crate::{errln, outln};

/// The builtins, for `help` and tab completion.
pub const BUILTINS: &[(&str, &str)] = &[
    (":", "do nothing, successfully"),
    ("true", "do nothing, successfully"),
    ("false", "do nothing, unsuccessfully"),
    ("cd", "change the working directory: cd [DIR | -]"),
    ("pwd", "print the working directory"),
    ("export", "export variables to programs: export [NAME[=VALUE] ...]"),
    ("unset", "unset variables or functions: unset [-f] NAME ..."),
    (
        "set",
        "set options (-e -u -x -f) or positional parameters: set [-eufx] [--] [ARG ...]",
    ),
    ("shift", "shift positional parameters: shift [N]"),
    ("exit", "leave the shell: exit [STATUS]"),
    ("return", "return from a function: return [STATUS]"),
    ("break", "leave a loop: break [N]"),
    ("continue", "next round of a loop: continue [N]"),
    ("jobs", "list background jobs"),
    ("wait", "wait for background jobs: wait [%N | PID ...]"),
    ("kill", "signal a job: kill [-s SIG | -SIG] %N | PID ..."),
    ("read", "read a line into variables: read [-r] NAME ..."),
    ("test", "evaluate a condition: test EXPR, [ EXPR ]"),
    ("[", "evaluate a condition: [ EXPR ]"),
    ("eval", "run words as a command line: eval ARG ..."),
    (".", "run a file in this shell: . FILE"),
    (
        "command",
        "how a name runs (command -v NAME), or run it bypassing functions",
    ),
    ("type", "say what a name is"),
    ("local", "set a variable (functions share the shell's)"),
];

pub fn is_builtin(name: &str) -> bool {
    BUILTINS.iter().any(|(n, _)| *n == name)
}

/// Signal names `kill` takes, with their numbers.
const SIGNALS: &[(&str, i32)] = &[("HUP", 1), ("INT", 2), ("QUIT", 3), ("KILL", 9), ("TERM", 15)];

impl Sh {
    /// Run `prep` if it names a builtin.
    pub(super) async fn builtin(&mut self, p: &Proc, prep: &Prepared) -> Option<Res> {
        let argv = &prep.argv;
        let io = &prep.io;
        let args = &argv[1..];
        let num = |s: Option<&String>, dflt: i32| -> Result<i32, String> {
            match s {
                None => Ok(dflt),
                Some(s) => s.parse().map_err(|_| format!("Illegal number: {s}")),
            }
        };
        let r = match argv[0].as_str() {
            ":" | "true" => Ok(0),
            "false" => Ok(1),
            "local" | "export" if args.is_empty() || args[0] == "-p" => {
                for (k, v) in self.vars.iter().filter(|(_, v)| v.exported) {
                    outln!(io, "export {k}={}", quote(&v.value));
                }
                Ok(0)
            }
            "export" | "local" => {
                let export = argv[0] == "export";
                for a in args {
                    let (name, value) = match a.split_once('=') {
                        Some((n, v)) => (n, Some(v.to_string())),
                        None => (a.as_str(), None),
                    };
                    if let Some(v) = value {
                        self.set(name, &v);
                    } else if !self.vars.contains_key(name) {
                        self.set(name, "");
                    }
                    if export && let Some(var) = self.vars.get_mut(name) {
                        var.exported = true;
                    }
                }
                Ok(0)
            }
            "unset" => {
                let funcs = args.first().is_some_and(|a| a == "-f");
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    if funcs {
                        self.funcs.remove(a);
                    } else {
                        self.vars.remove(a);
                    }
                }
                Ok(0)
            }
            "cd" => self.cd(args, io),
            "pwd" => {
                outln!(io, "{}", self.cwd.display());
                Ok(0)
            }
            "set" => self.set_builtin(args, io),
            "shift" => match num(args.first(), 1) {
                Ok(n) if n >= 0 && n as usize <= self.args.len() => {
                    self.args.drain(..n as usize);
                    Ok(0)
                }
                Ok(_) => Err("shift: can't shift that many".to_string()),
                Err(e) => Err(format!("shift: {e}")),
            },
            "exit" => {
                return Some(match num(args.first(), self.last) {
                    Ok(n) => {
                        self.exit = Some(n & 0xff);
                        Err(Flow::Exit(n & 0xff))
                    }
                    Err(e) => {
                        errln!(io, "{}: exit: {e}", self.arg0);
                        Ok(2)
                    }
                });
            }
            "return" => return Some(num(args.first(), self.last).map_or(Ok(2), |n| Err(Flow::Return(n & 0xff)))),
            "break" | "continue" => {
                let n = num(args.first(), 1).unwrap_or(1).max(1) as u32;
                return Some(Err(if argv[0] == "break" {
                    Flow::Break(n)
                } else {
                    Flow::Continue(n)
                }));
            }
            "jobs" => {
                let mut jobs: Vec<&super::Job> = self.jobs.iter().collect();
                jobs.sort_by_key(|j| j.num);
                for j in jobs {
                    let st = j.tasks.last().and_then(|&t| p.tasks().status(t));
                    outln!(io, "[{}]  {:<22} {} &", j.num, job_state(st), j.text);
                }
                Ok(0)
            }
            "wait" => return Some(Ok(self.wait_builtin(p, args, io).await)),
            "kill" => self.kill_builtin(p, args, io),
            "read" => return Some(Ok(self.read_builtin(args, io).await)),
            "test" => test(args, io),
            "[" => match args.split_last() {
                Some((last, rest)) if last == "]" => test(rest, io),
                _ => Err("[: missing ]".to_string()),
            },
            "eval" => {
                let text = args.join(" ");
                return Some(self.run_text(p, &text, io).await);
            }
            "." | "source" => match args.first() {
                None => Err(".: usage: . FILE".to_string()),
                Some(f) => match std::fs::read_to_string(self.cwd.join(f)) {
                    Ok(text) => return Some(self.run_text(p, &text, io).await),
                    Err(e) => Err(format!(".: cannot open {f}: {}", crate::userland::strerror(&e))),
                },
            },
            "command" | "type" => self.command_builtin(p, &argv[0], args, io),
            _ => return None,
        };
        Some(Ok(match r {
            Ok(st) => st,
            Err(e) => {
                errln!(io, "{}: {e}", self.arg0);
                2
            }
        }))
    }

    fn cd(&mut self, args: &[String], io: &Stdio) -> Result<i32, String> {
        let target = match args.first().map(String::as_str) {
            None => self.get("HOME").unwrap_or_else(|| "/".into()),
            Some("-") => {
                let old = self.get("OLDPWD").ok_or("cd: OLDPWD not set")?;
                outln!(io, "{old}");
                old
            }
            Some(d) => d.to_string(),
        };
        let path = self.cwd.join(&target);
        match path.canonicalize() {
            Ok(p) if p.is_dir() => {
                let old = self.cwd.display().to_string();
                self.cwd = p;
                self.set("OLDPWD", &old);
                let pwd = self.cwd.display().to_string();
                self.set("PWD", &pwd);
                Ok(0)
            }
            Ok(_) => Err(format!("cd: {target}: Not a directory")),
            Err(e) => Err(format!("cd: {target}: {}", crate::userland::strerror(&e))),
        }
    }

    /// Turn option `c` on or off.
    pub fn set_opt(&mut self, c: char, on: bool) -> bool {
        match c {
            'e' => self.errexit = on,
            'u' => self.nounset = on,
            'x' => self.xtrace = on,
            'f' => self.noglob = on,
            'i' | 's' => {}
            _ => return false,
        }
        true
    }

    fn set_builtin(&mut self, args: &[String], io: &Stdio) -> Result<i32, String> {
        if args.is_empty() {
            for (k, v) in &self.vars {
                outln!(io, "{k}={}", quote(&v.value));
            }
            return Ok(0);
        }
        let mut i = 0;
        while let Some(a) = args.get(i) {
            if a == "--" {
                i += 1;
                self.args = args[i..].to_vec();
                return Ok(0);
            }
            let on = a.starts_with('-');
            if !(on || a.starts_with('+')) || a.len() < 2 {
                break;
            }
            if a[1..] == *"o" {
                let name = args.get(i + 1).ok_or("set: -o: option requires an argument")?;
                let c = match name.as_str() {
                    "errexit" => 'e',
                    "nounset" => 'u',
                    "xtrace" => 'x',
                    "noglob" => 'f',
                    o => return Err(format!("set: Illegal option -o {o}")),
                };
                self.set_opt(c, on);
                i += 2;
                continue;
            }
            for c in a[1..].chars() {
                if !self.set_opt(c, on) {
                    return Err(format!("set: Illegal option -{c}"));
                }
            }
            i += 1;
        }
        if i < args.len() {
            self.args = args[i..].to_vec();
        }
        Ok(0)
    }

    /// The tasks of the jobs named (all without names).
    fn jobs_named(&self, args: &[String], io: &Stdio) -> Result<Vec<(usize, Vec<TaskId>)>, i32> {
        if args.is_empty() {
            return Ok(self.jobs.iter().map(|j| (j.num, j.tasks.clone())).collect());
        }
        let mut out = Vec::new();
        for a in args {
            let found = match a.strip_prefix('%') {
                Some(n) => n
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| self.jobs.iter().find(|j| j.num == n)),
                None => a
                    .parse::<u32>()
                    .ok()
                    .and_then(|pid| self.jobs.iter().find(|j| j.pid == pid)),
            };
            match found {
                Some(j) => out.push((j.num, j.tasks.clone())),
                None => {
                    errln!(io, "vimage: {a}: no such job");
                    return Err(127);
                }
            }
        }
        Ok(out)
    }

    /// `wait`: until the jobs end (a ^C ends the wait); the last one's
    /// status.
    async fn wait_builtin(&mut self, p: &Proc, args: &[String], io: &Stdio) -> i32 {
        let named = match self.jobs_named(args, io) {
            Ok(n) => n,
            Err(st) => return st,
        };
        let tasks: Vec<TaskId> = named.iter().flat_map(|(_, t)| t.clone()).collect();
        let ex = p.tasks().clone();
        let term = self.term.clone();
        let how = std::future::poll_fn(|cx| {
            if term.take_stall() {
                return Poll::Ready(Some(1));
            }
            if p.intr.poll_raised(cx.waker()) {
                p.intr.take();
                return Poll::Ready(Some(INTERRUPTED));
            }
            if tasks.iter().all(|&t| ex.poll_status(t, cx.waker()).is_some()) {
                return Poll::Ready(None);
            }
            *term.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        *self.term.waker.borrow_mut() = None;
        match how {
            Some(1) => {
                errln!(io, "vimage: wait: {}", crate::host::Stalled);
                1
            }
            Some(st) => st,
            None => {
                let st = tasks.last().and_then(|&t| ex.status(t)).unwrap_or(0);
                if !args.is_empty() {
                    // A job waited for by name is gone (as sh forgets it).
                    let nums: Vec<usize> = named.iter().map(|(n, _)| *n).collect();
                    self.jobs.retain(|j| !nums.contains(&j.num));
                    for t in tasks {
                        ex.reap(t);
                    }
                }
                st
            }
        }
    }

    fn kill_builtin(&mut self, p: &Proc, args: &[String], io: &Stdio) -> Result<i32, String> {
        let (sig, rest) = match args.first().map(String::as_str) {
            Some("-l") => {
                outln!(io, "{}", SIGNALS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" "));
                return Ok(0);
            }
            Some("-s") => (args.get(1).cloned().unwrap_or_default(), &args[2.min(args.len())..]),
            Some(s) if s.starts_with('-') => (s[1..].to_string(), &args[1..]),
            _ => ("TERM".to_string(), args),
        };
        if rest.is_empty() {
            return Err("kill: usage: kill [-s SIG | -SIG] %JOB | PID ...".into());
        }
        let name = sig.trim_start_matches("SIG").to_ascii_uppercase();
        let num = SIGNALS
            .iter()
            .find(|(n, k)| *n == name || k.to_string() == name)
            .map(|(_, k)| *k)
            .ok_or(format!("kill: unknown signal {sig}"))?;
        let named = self.jobs_named(rest, io).map_err(|_| String::new());
        let Ok(named) = named else { return Ok(1) };
        for (_, tasks) in named {
            for t in tasks {
                p.tasks().kill_with(t, 128 + num);
            }
        }
        Ok(0)
    }

    async fn read_builtin(&mut self, args: &[String], io: &Stdio) -> i32 {
        let names: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let Some(line) = io.stdin.read_line().await else {
            return 1;
        };
        let ifs = self.get("IFS").unwrap_or_else(|| " \t\n".into());
        let mut rest = line.trim_matches(|c| ifs.contains(c));
        for (i, n) in names.iter().enumerate() {
            if i + 1 == names.len() {
                self.set(n, rest);
                break;
            }
            let (w, r) = rest.split_once(|c| ifs.contains(c)).unwrap_or((rest, ""));
            self.set(n, w);
            rest = r.trim_start_matches(|c| ifs.contains(c));
        }
        if names.is_empty() {
            self.set("REPLY", &line);
        }
        0
    }

    /// `command -v NAME` / `type NAME`: what a name would run.
    fn command_builtin(&mut self, p: &Proc, which: &str, args: &[String], io: &Stdio) -> Result<i32, String> {
        let names: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let mut st = 0;
        for n in names {
            let path = self.get("PATH");
            let what = if self.funcs.contains_key(n.as_str()) {
                Some((n.to_string(), "a shell function"))
            } else if is_builtin(n) {
                Some((n.to_string(), "a shell builtin"))
            } else if crate::userland::lookup(n).is_some() {
                Some((n.to_string(), "a vimage command"))
            } else {
                crate::userland::hostproc::which(n, path.as_deref(), Some(&self.cwd))
                    .map(|x| (x.display().to_string(), "a host program"))
            };
            let _ = p;
            match (what, which) {
                (Some((w, _)), "command") => outln!(io, "{w}"),
                (Some((w, "a host program")), _) => outln!(io, "{n} is {w}"),
                (Some((_, kind)), _) => outln!(io, "{n} is {kind}"),
                (None, "type") => {
                    outln!(io, "{n}: not found");
                    st = 127;
                }
                (None, _) => st = 127,
            }
        }
        Ok(st)
    }
}

/// `'value'` as `set` and `export -p` print it.
fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

/// test(1): the condition's status (0 true, 1 false).
fn test(args: &[String], _io: &Stdio) -> Result<i32, String> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (v, used) = test_or(&a)?;
    if used != a.len() {
        return Err(format!("test: unexpected operator {}", a.get(used).unwrap_or(&"")));
    }
    Ok(i32::from(!v))
}

fn test_or(a: &[&str]) -> Result<(bool, usize), String> {
    let (mut v, mut i) = test_and(a)?;
    while a.get(i) == Some(&"-o") {
        let (w, j) = test_and(&a[i + 1..])?;
        v = v || w;
        i += 1 + j;
    }
    Ok((v, i))
}

fn test_and(a: &[&str]) -> Result<(bool, usize), String> {
    let (mut v, mut i) = test_not(a)?;
    while a.get(i) == Some(&"-a") {
        let (w, j) = test_not(&a[i + 1..])?;
        v = v && w;
        i += 1 + j;
    }
    Ok((v, i))
}

fn test_not(a: &[&str]) -> Result<(bool, usize), String> {
    if a.first() == Some(&"!") && a.len() > 1 {
        let (v, i) = test_not(&a[1..])?;
        return Ok((!v, i + 1));
    }
    test_primary(a)
}

fn test_primary(a: &[&str]) -> Result<(bool, usize), String> {
    let int = |s: &str| s.trim().parse::<i64>().map_err(|_| format!("test: {s}: bad number"));
    match a {
        [] => Ok((false, 0)),
        ["(", rest @ ..] => {
            let (v, i) = test_or(rest)?;
            if rest.get(i) != Some(&")") {
                return Err("test: closing paren expected".into());
            }
            Ok((v, i + 2))
        }
        [x, op, y, ..] if is_binary(op) => {
            let v = match *op {
                "=" | "==" => x == y,
                "!=" => x != y,
                "<" => x < y,
                ">" => x > y,
                "-eq" => int(x)? == int(y)?,
                "-ne" => int(x)? != int(y)?,
                "-lt" => int(x)? < int(y)?,
                "-le" => int(x)? <= int(y)?,
                "-gt" => int(x)? > int(y)?,
                _ => int(x)? >= int(y)?,
            };
            Ok((v, 3))
        }
        [op, x, ..] if op.len() == 2 && op.starts_with('-') && "nzedfsrwxhL".contains(&op[1..]) => {
            let m = std::fs::metadata(x);
            let v = match *op {
                "-n" => !x.is_empty(),
                "-z" => x.is_empty(),
                "-e" => m.is_ok(),
                "-d" => m.is_ok_and(|m| m.is_dir()),
                "-f" => m.is_ok_and(|m| m.is_file()),
                "-s" => m.is_ok_and(|m| m.len() > 0),
                "-h" | "-L" => std::fs::symlink_metadata(x).is_ok_and(|m| m.file_type().is_symlink()),
                "-x" => {
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        m.is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
                    }
                    #[cfg(not(unix))]
                    {
                        m.is_ok()
                    }
                }
                "-w" => m.is_ok_and(|m| !m.permissions().readonly()),
                _ => m.is_ok(),
            };
            Ok((v, 2))
        }
        [x, ..] => Ok((!x.is_empty(), 1)),
    }
}

fn is_binary(op: &str) -> bool {
    matches!(
        op,
        "=" | "==" | "!=" | "<" | ">" | "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i32 {
        let a: Vec<String> = s.split_whitespace().map(String::from).collect();
        let io = Stdio::null_all();
        test(&a, &io).unwrap_or(2)
    }

    #[test]
    fn test_evaluates_like_test1() {
        assert_eq!(t("a = a"), 0);
        assert_eq!(t("a != a"), 1);
        assert_eq!(t("3 -gt 2 -a 1 -lt 2"), 0);
        assert_eq!(t("! 3 -gt 2"), 1);
        assert_eq!(t("-z x -o -n y"), 0);
        assert_eq!(t("( 1 -eq 2 ) -o 1 -eq 1"), 0);
        assert_eq!(t("-d /"), 0);
        assert_eq!(t("-f /nonexistent"), 1);
        assert_eq!(t(""), 1);
        assert_eq!(t("x"), 0);
        assert_eq!(t("1 -eq x"), 2);
    }
}
