//! Running what the parser read (XCU §2.9): lists, pipelines, simple and
//! compound commands, functions, redirections (§2.7), and the jobs they
//! become.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use brush_parser::ast;

use super::expand::{Mode, pattern_match};
use super::{Fg, Flow, Job, Res, Sh};
use crate::errln;
use crate::kern::pipe::{LocalPipe, local_pipe};
use crate::kern::proc::{In, Intr, Out, Proc, Stdio};
use crate::kern::task::{INTERRUPTED, TaskId};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Exit status of a process killed by SIGPIPE.
const SIGPIPED: i32 = 141;

/// A simple command made ready: its words, assignments and streams.
pub(super) struct Prepared {
    pub argv: Vec<String>,
    pub assigns: Vec<(String, String)>,
    pub io: Stdio,
}

impl Sh {
    pub(super) fn list<'a>(&'a mut self, p: &'a Proc, list: &'a ast::CompoundList, io: &'a Stdio) -> Boxed<'a, Res> {
        Box::pin(async move {
            let mut st = self.last;
            for ast::CompoundListItem(ao, sep) in &list.0 {
                if self.exit.is_some() {
                    break;
                }
                // ^C between commands: an interactive shell drops the rest
                // of the line, a script ends.
                if p.intr.take() {
                    self.last = INTERRUPTED;
                    return if self.interactive {
                        Ok(INTERRUPTED)
                    } else {
                        Err(Flow::Exit(INTERRUPTED))
                    };
                }
                st = match sep {
                    ast::SeparatorOperator::Async => {
                        self.background(p, ao, io).await;
                        0
                    }
                    ast::SeparatorOperator::Sequence => self.and_or(p, ao, io).await?,
                };
                self.last = st;
            }
            Ok(st)
        })
    }

    async fn and_or(&mut self, p: &Proc, ao: &ast::AndOrList, io: &Stdio) -> Res {
        let n = ao.additional.len();
        self.cond += u32::from(n > 0);
        let first = self.pipeline(p, &ao.first, io).await;
        let mut st = match first {
            Ok(s) => s,
            Err(f) => {
                self.cond -= u32::from(n > 0);
                return Err(f);
            }
        };
        for (i, next) in ao.additional.iter().enumerate() {
            if i + 1 == n {
                self.cond -= 1;
            }
            let (run, pl) = match next {
                ast::AndOr::And(pl) => (st == 0, pl),
                ast::AndOr::Or(pl) => (st != 0, pl),
            };
            if run {
                match self.pipeline(p, pl, io).await {
                    Ok(s) => st = s,
                    Err(f) => {
                        if i + 1 < n {
                            self.cond -= 1;
                        }
                        return Err(f);
                    }
                }
            }
        }
        Ok(st)
    }

    fn pipeline<'a>(&'a mut self, p: &'a Proc, pl: &'a ast::Pipeline, io: &'a Stdio) -> Boxed<'a, Res> {
        Box::pin(async move {
            self.cond += u32::from(pl.bang);
            let r = match pl.seq.as_slice() {
                [one] => self.command(p, one, io).await,
                many => self.multi(p, many, io).await,
            };
            self.cond -= u32::from(pl.bang);
            let st = r?;
            let st = if pl.bang { i32::from(st == 0) } else { st };
            self.last = st;
            Ok(st)
        })
    }

    /// The end of a command: `$?`, a failure counted, `set -e`.
    pub(super) fn done(&mut self, st: i32) -> Res {
        self.last = st;
        // Killed on purpose (kill %N, jail -r) is no failure.
        if st != 0 && st != crate::kern::task::KILLED && self.cond == 0 {
            self.failures += 1;
            if self.errexit {
                return Err(Flow::Exit(st));
            }
        }
        Ok(st)
    }

    /// `a | b | c`: each stage a process, joined by pipes; the status is
    /// the last one's.
    async fn multi(&mut self, p: &Proc, seq: &[ast::Command], io: &Stdio) -> Res {
        let intr = Rc::new(Intr::default());
        let mut tasks = Vec::new();
        let mut pipes: Vec<Option<Rc<LocalPipe>>> = Vec::new();
        let mut stdin = Some(io.stdin.clone());
        for (i, c) in seq.iter().enumerate() {
            let last = i + 1 == seq.len();
            let (stdout, next, lp) = if last {
                (io.stdout.clone(), None, None)
            } else {
                let (o, r, lp) = local_pipe();
                (o, Some(r), Some(lp))
            };
            let sio = Stdio {
                stdin: stdin.take().unwrap_or_else(In::null),
                stdout,
                stderr: io.stderr.clone(),
            };
            match self.spawn_stage(p, c, sio, &intr, false).await {
                Ok(t) => tasks.push(t),
                Err(st) => {
                    for t in tasks {
                        p.tasks().kill(t);
                        p.tasks().reap(t);
                    }
                    return self.done(st);
                }
            }
            pipes.push(lp);
            stdin = next;
        }
        drop(stdin);
        let text = seq.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | ");
        let st = self.wait_fg(p, &tasks, &intr, &pipes, &text, io).await;
        self.done(st)
    }

    /// Start one stage of a pipeline (or a background job) as a process:
    /// a program runs as itself; a builtin, function or compound command
    /// in a subshell.
    async fn spawn_stage(
        &mut self,
        p: &Proc,
        c: &ast::Command,
        sio: Stdio,
        intr: &Rc<Intr>,
        bg: bool,
    ) -> Result<TaskId, i32> {
        if let ast::Command::Simple(sc) = c {
            let prep = match self.prepare(p, sc, &sio).await {
                Ok(x) => x,
                Err(e) => {
                    errln!(sio, "{}: {e}", self.arg0);
                    return Err(1);
                }
            };
            let name = prep.argv.first().map(String::as_str).unwrap_or("");
            if !prep.argv.is_empty() && !self.funcs.contains_key(name) && !super::builtins::is_builtin(name) {
                return Ok(self.spawn_external(p, prep, intr, bg));
            }
        }
        let mut sub = self.subshell();
        let c = c.clone();
        let mut cp = p.with_stdio(sio.clone());
        cp.intr = intr.clone();
        cp.background = bg;
        Ok(p.spawn(Box::pin(async move {
            match sub.command(&cp, &c, &sio).await {
                Ok(s) | Err(Flow::Exit(s) | Flow::Return(s)) => sub.exit.unwrap_or(s),
                Err(_) => sub.last,
            }
        })))
    }

    /// A program (vimage's or the host's) as a process of this shell.
    fn spawn_external(&self, p: &Proc, prep: Prepared, intr: &Rc<Intr>, bg: bool) -> TaskId {
        let mut cp = p.with_stdio(prep.io);
        cp.intr = intr.clone();
        cp.env = Some(self.environ(&prep.assigns));
        cp.cwd = Some(Rc::from(self.cwd.as_path()));
        cp.background = bg;
        p.spawn(crate::userland::run(cp, prep.argv))
    }

    /// Wait for a foreground job: ^C to the shell is its SIGINT; a
    /// stage whose reader has gone is killed by SIGPIPE once the last
    /// has ended; the virtual clock running dry ends it with a message.
    /// The last stage's status.
    async fn wait_fg(
        &mut self,
        p: &Proc,
        tasks: &[TaskId],
        intr: &Rc<Intr>,
        pipes: &[Option<Rc<LocalPipe>>],
        text: &str,
        io: &Stdio,
    ) -> i32 {
        let ex = p.tasks().clone();
        let prev = self.term.fg.replace(Some(Fg {
            tasks: tasks.to_vec(),
            intr: intr.clone(),
        }));
        let term = self.term.clone();
        let stalled = std::future::poll_fn(|cx| {
            if term.take_stall() {
                return Poll::Ready(true);
            }
            if p.intr.poll_raised(cx.waker()) {
                p.intr.take();
                if !intr.raise() {
                    for &t in tasks {
                        ex.kill_with(t, INTERRUPTED);
                    }
                }
            }
            let last = tasks.last().and_then(|&t| ex.poll_status(t, cx.waker()));
            if last.is_some() {
                for (&t, lp) in tasks.iter().zip(pipes) {
                    if lp.as_ref().is_some_and(|l| l.broken()) {
                        ex.kill_with(t, SIGPIPED);
                    }
                }
            }
            if tasks.iter().all(|&t| ex.poll_status(t, cx.waker()).is_some()) {
                return Poll::Ready(false);
            }
            *term.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        *self.term.waker.borrow_mut() = None;
        *self.term.fg.borrow_mut() = prev;
        let st = tasks.last().and_then(|&t| ex.status(t)).unwrap_or(0);
        for &t in tasks {
            ex.kill(t);
            ex.reap(t);
        }
        if stalled {
            errln!(io, "vimage: {text}: {}", crate::host::Stalled);
            return 1;
        }
        st
    }

    /// `cmd &`: a job, with no input of its own.
    async fn background(&mut self, p: &Proc, ao: &ast::AndOrList, io: &Stdio) {
        let bio = io.background();
        let intr = Rc::new(Intr::default());
        let text = ao.to_string();
        let mut tasks = Vec::new();
        if ao.additional.is_empty() && !ao.first.bang {
            let seq = &ao.first.seq;
            let mut stdin = Some(bio.stdin.clone());
            for (i, c) in seq.iter().enumerate() {
                let (stdout, next) = if i + 1 == seq.len() {
                    (bio.stdout.clone(), None)
                } else {
                    let (o, r, _) = local_pipe();
                    (o, Some(r))
                };
                let sio = Stdio {
                    stdin: stdin.take().unwrap_or_else(In::null),
                    stdout,
                    stderr: bio.stderr.clone(),
                };
                match self.spawn_stage(p, c, sio, &intr, true).await {
                    Ok(t) => tasks.push(t),
                    Err(_) => return,
                }
                stdin = next;
            }
        } else {
            let mut sub = self.subshell();
            let ao = ao.clone();
            let mut cp = p.with_stdio(bio.clone());
            cp.intr = intr;
            cp.background = true;
            tasks.push(p.spawn(Box::pin(async move {
                match sub.and_or(&cp, &ao, &bio).await {
                    Ok(s) | Err(Flow::Exit(s) | Flow::Return(s)) => s,
                    Err(_) => sub.last,
                }
            })));
        }
        // Job numbers are the lowest free, as sh(1) gives them.
        let num = (1..).find(|n| self.jobs.iter().all(|j| j.num != *n)).unwrap_or(1);
        let pid = p.kernel().alloc_pid();
        self.last_bg = Some(pid);
        if self.interactive {
            crate::outln!(io, "[{num}] {pid}");
        }
        self.jobs.push(Job { num, tasks, text, pid });
    }

    pub(super) fn command<'a>(&'a mut self, p: &'a Proc, c: &'a ast::Command, io: &'a Stdio) -> Boxed<'a, Res> {
        Box::pin(async move {
            match c {
                ast::Command::Simple(sc) => self.simple(p, sc, io).await,
                ast::Command::Compound(cc, redirs) => {
                    let io = match self.redirects(p, io, redirs.as_ref().map_or(&[][..], |r| &r.0)).await {
                        Ok(io) => io,
                        Err(e) => {
                            errln!(io, "{}: {e}", self.arg0);
                            return self.done(2);
                        }
                    };
                    self.compound(p, cc, &io).await
                }
                ast::Command::Function(def) => {
                    self.funcs.insert(def.fname.value.clone(), Rc::new(def.clone()));
                    Ok(0)
                }
                ast::Command::ExtendedTest(..) => {
                    errln!(io, "{}: [[: not supported; use [ or test", self.arg0);
                    self.done(2)
                }
            }
        })
    }

    /// Expand a simple command's words, assignments and redirections.
    pub(super) async fn prepare(&mut self, p: &Proc, sc: &ast::SimpleCommand, io: &Stdio) -> Result<Prepared, String> {
        let mut argv = Vec::new();
        let mut assigns = Vec::new();
        let mut redirs = Vec::new();
        for item in sc.prefix.iter().flat_map(|x| &x.0) {
            match item {
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirs.push(r.clone()),
                ast::CommandPrefixOrSuffixItem::AssignmentWord(a, _) => {
                    let ast::AssignmentValue::Scalar(w) = &a.value else {
                        return Err("arrays are not supported".into());
                    };
                    let name = match &a.name {
                        ast::AssignmentName::VariableName(n) => n.clone(),
                        ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
                    };
                    let mut v = self.expand_one(p, io, &w.value).await?;
                    if a.append {
                        v = self.get(&name).unwrap_or_default() + &v;
                    }
                    assigns.push((name, v));
                }
                ast::CommandPrefixOrSuffixItem::Word(w) => {
                    argv.extend(self.expand(p, io, &w.value, Mode::Fields).await?)
                }
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                    return Err("process substitution is not supported".into());
                }
            }
        }
        if let Some(w) = &sc.word_or_name {
            argv.extend(self.expand(p, io, &w.value, Mode::Fields).await?);
        }
        for item in sc.suffix.iter().flat_map(|x| &x.0) {
            match item {
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirs.push(r.clone()),
                ast::CommandPrefixOrSuffixItem::Word(w) => {
                    argv.extend(self.expand(p, io, &w.value, Mode::Fields).await?)
                }
                ast::CommandPrefixOrSuffixItem::AssignmentWord(_, w) => {
                    argv.push(self.expand_one(p, io, &w.value).await?)
                }
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                    return Err("process substitution is not supported".into());
                }
            }
        }
        let io = self.redirects(p, io, &redirs).await?;
        Ok(Prepared { argv, assigns, io })
    }

    async fn simple(&mut self, p: &Proc, sc: &ast::SimpleCommand, io: &Stdio) -> Res {
        self.subst_status = None;
        let prep = match self.prepare(p, sc, io).await {
            Ok(x) => x,
            Err(e) => {
                errln!(io, "{}: {e}", self.arg0);
                return self.done(if self.interactive { 1 } else { 2 });
            }
        };
        if prep.argv.is_empty() {
            for (k, v) in &prep.assigns {
                self.set(k, v);
            }
            let st = self.subst_status.take().unwrap_or(0);
            return self.done(st);
        }
        if self.xtrace {
            errln!(prep.io, "+ {}", prep.argv.join(" "));
        }
        let name = prep.argv[0].clone();
        if let Some(f) = self.funcs.get(&name).cloned() {
            return self.call(p, &f, &prep.argv, &prep.io).await;
        }
        if let Some(r) = self.builtin(p, &prep).await {
            let st = r?;
            return self.done(st);
        }
        let intr = Rc::new(Intr::default());
        let text = prep.argv.join(" ");
        let t = self.spawn_external(p, prep, &intr, false);
        let st = self.wait_fg(p, &[t], &intr, &[None], &text, io).await;
        self.done(st)
    }

    /// Call a function: its arguments are the positional parameters.
    async fn call(&mut self, p: &Proc, f: &ast::FunctionDefinition, argv: &[String], io: &Stdio) -> Res {
        let saved = std::mem::replace(&mut self.args, argv[1..].to_vec());
        let ast::FunctionBody(body, redirs) = &f.body;
        let r = match self.redirects(p, io, redirs.as_ref().map_or(&[][..], |r| &r.0)).await {
            Ok(fio) => self.compound(p, body, &fio).await,
            Err(e) => {
                errln!(io, "{}: {e}", self.arg0);
                Ok(2)
            }
        };
        self.args = saved;
        match r {
            Err(Flow::Return(st)) => {
                self.last = st;
                Ok(st)
            }
            other => other,
        }
    }

    fn compound<'a>(&'a mut self, p: &'a Proc, cc: &'a ast::CompoundCommand, io: &'a Stdio) -> Boxed<'a, Res> {
        Box::pin(async move {
            use ast::CompoundCommand as C;
            match cc {
                C::BraceGroup(b) => self.list(p, &b.list, io).await,
                C::Subshell(s) => {
                    let mut sub = self.subshell();
                    let r = sub.list(p, &s.list, io).await;
                    self.failures = sub.failures;
                    Ok(match r {
                        Ok(st) | Err(Flow::Exit(st) | Flow::Return(st)) => sub.exit.unwrap_or(st),
                        Err(_) => sub.last,
                    })
                }
                C::ForClause(f) => {
                    let values = match &f.values {
                        Some(ws) => {
                            let mut vs = Vec::new();
                            for w in ws {
                                match self.expand(p, io, &w.value, Mode::Fields).await {
                                    Ok(v) => vs.extend(v),
                                    Err(e) => {
                                        errln!(io, "{}: {e}", self.arg0);
                                        return self.done(2);
                                    }
                                }
                            }
                            vs
                        }
                        None => self.args.clone(),
                    };
                    let mut st = 0;
                    for v in values {
                        self.set(&f.variable_name, &v);
                        match self.round(p, &f.body.list, io).await? {
                            Some(s) => st = s,
                            None => break,
                        }
                    }
                    Ok(st)
                }
                C::WhileClause(w) | C::UntilClause(w) => {
                    let until = matches!(cc, C::UntilClause(_));
                    let mut st = 0;
                    loop {
                        self.cond += 1;
                        let c = self.list(p, &w.0, io).await;
                        self.cond -= 1;
                        if (c? == 0) == until {
                            break;
                        }
                        match self.round(p, &w.1.list, io).await? {
                            Some(s) => st = s,
                            None => break,
                        }
                    }
                    Ok(st)
                }
                C::IfClause(i) => {
                    self.cond += 1;
                    let c = self.list(p, &i.condition, io).await;
                    self.cond -= 1;
                    if c? == 0 {
                        return self.list(p, &i.then, io).await;
                    }
                    for e in i.elses.iter().flatten() {
                        match &e.condition {
                            Some(cond) => {
                                self.cond += 1;
                                let c = self.list(p, cond, io).await;
                                self.cond -= 1;
                                if c? == 0 {
                                    return self.list(p, &e.body, io).await;
                                }
                            }
                            None => return self.list(p, &e.body, io).await,
                        }
                    }
                    Ok(0)
                }
                C::CaseClause(c) => {
                    let word = match self.expand_one(p, io, &c.value.value).await {
                        Ok(w) => w,
                        Err(e) => {
                            errln!(io, "{}: {e}", self.arg0);
                            return self.done(2);
                        }
                    };
                    let mut st = 0;
                    let mut fall = false;
                    for item in &c.cases {
                        let mut hit = fall;
                        if !hit {
                            for pat in &item.patterns {
                                match self.expand(p, io, &pat.value, Mode::Pattern).await {
                                    Ok(ps) if ps.iter().any(|ps| pattern_match(ps, &word)) => {
                                        hit = true;
                                        break;
                                    }
                                    Ok(_) => {}
                                    Err(e) => {
                                        errln!(io, "{}: {e}", self.arg0);
                                        return self.done(2);
                                    }
                                }
                            }
                        }
                        if !hit {
                            continue;
                        }
                        if let Some(body) = &item.cmd {
                            st = self.list(p, body, io).await?;
                        }
                        match item.post_action {
                            ast::CaseItemPostAction::ExitCase => return Ok(st),
                            ast::CaseItemPostAction::UnconditionallyExecuteNextCaseItem => fall = true,
                            ast::CaseItemPostAction::ContinueEvaluatingCases => fall = false,
                        }
                    }
                    Ok(st)
                }
                C::Arithmetic(a) => {
                    let e = ast::UnexpandedArithmeticExpr {
                        value: a.expr.value.clone(),
                    };
                    match self.arith_str(p, io, &e).await {
                        Ok(n) => Ok(i32::from(n == 0)),
                        Err(e) => {
                            errln!(io, "{}: {e}", self.arg0);
                            self.done(2)
                        }
                    }
                }
                C::ArithmeticForClause(a) => {
                    let run = |e: &Option<ast::UnexpandedArithmeticExpr>| e.clone();
                    if let Some(init) = run(&a.initializer)
                        && let Err(e) = self.arith_str(p, io, &init).await
                    {
                        errln!(io, "{}: {e}", self.arg0);
                        return self.done(2);
                    }
                    let mut st = 0;
                    loop {
                        if let Some(c) = run(&a.condition) {
                            match self.arith_str(p, io, &c).await {
                                Ok(0) => break,
                                Ok(_) => {}
                                Err(e) => {
                                    errln!(io, "{}: {e}", self.arg0);
                                    return self.done(2);
                                }
                            }
                        }
                        match self.round(p, &a.body.list, io).await? {
                            Some(s) => st = s,
                            None => break,
                        }
                        if let Some(u) = run(&a.updater)
                            && let Err(e) = self.arith_str(p, io, &u).await
                        {
                            errln!(io, "{}: {e}", self.arg0);
                            return self.done(2);
                        }
                    }
                    Ok(st)
                }
                C::Coprocess(_) => {
                    errln!(io, "{}: coproc: not supported", self.arg0);
                    self.done(2)
                }
            }
        })
    }

    /// One round of a loop's body: its status, or `None` to leave the
    /// loop (`break`); `break N`/`continue N` reach outer loops.
    async fn round(&mut self, p: &Proc, body: &ast::CompoundList, io: &Stdio) -> Result<Option<i32>, Flow> {
        match self.list(p, body, io).await {
            Ok(s) => Ok(Some(s)),
            Err(Flow::Break(n)) if n > 1 => Err(Flow::Break(n - 1)),
            Err(Flow::Break(_)) => Ok(None),
            Err(Flow::Continue(n)) if n > 1 => Err(Flow::Continue(n - 1)),
            Err(Flow::Continue(_)) => Ok(Some(self.last)),
            Err(e) => Err(e),
        }
    }

    /// Apply redirections to a copy of `io` (XCU §2.7).
    pub(super) async fn redirects(&mut self, p: &Proc, io: &Stdio, list: &[ast::IoRedirect]) -> Result<Stdio, String> {
        let mut io = io.clone();
        for r in list {
            match r {
                ast::IoRedirect::File(fd, kind, target) => {
                    use ast::IoFileRedirectKind as K;
                    let input = matches!(kind, K::Read | K::ReadAndWrite | K::DuplicateInput);
                    let fd = fd.unwrap_or(if input { 0 } else { 1 });
                    let name = match target {
                        ast::IoFileRedirectTarget::Filename(w) => Some(self.expand_one(p, &io, &w.value).await?),
                        ast::IoFileRedirectTarget::Fd(n) => {
                            self.dup(&mut io, fd, *n, input)?;
                            None
                        }
                        ast::IoFileRedirectTarget::Duplicate(w) => {
                            let t = self.expand_one(p, &io, &w.value).await?;
                            match (t.as_str(), t.parse::<i32>()) {
                                ("-", _) => {
                                    if input {
                                        io.stdin = In::null();
                                    } else {
                                        set_out(&mut io, fd, Out::null())?;
                                    }
                                    None
                                }
                                (_, Ok(n)) => {
                                    self.dup(&mut io, fd, n, input)?;
                                    None
                                }
                                // `>&file` is `>file 2>&1`.
                                _ if !input && fd == 1 => {
                                    let o = Out::new(self.open(&t, K::Write)?);
                                    io.stdout = o.clone();
                                    io.stderr = o;
                                    None
                                }
                                _ => return Err(format!("{t}: bad file descriptor")),
                            }
                        }
                        ast::IoFileRedirectTarget::ProcessSubstitution(..) => {
                            return Err("process substitution is not supported".into());
                        }
                    };
                    if let Some(name) = name {
                        let f = self.open(&name, kind.clone())?;
                        if input {
                            if fd != 0 {
                                return Err(format!("{fd}: bad file descriptor"));
                            }
                            io.stdin = In::new(f);
                        } else {
                            set_out(&mut io, fd, Out::new(f))?;
                        }
                    }
                }
                ast::IoRedirect::HereDocument(fd, hd) => {
                    if fd.unwrap_or(0) != 0 {
                        return Err(format!("{}: bad file descriptor", fd.unwrap_or(0)));
                    }
                    let mut body = if hd.requires_expansion {
                        self.expand_heredoc(p, &io, &hd.doc.value).await?
                    } else {
                        hd.doc.value.clone()
                    };
                    if hd.remove_tabs {
                        body = body
                            .lines()
                            .map(|l| l.trim_start_matches('\t').to_string() + "\n")
                            .collect();
                    }
                    io.stdin = In::new(std::io::Cursor::new(body.into_bytes()));
                }
                ast::IoRedirect::HereString(fd, w) => {
                    if fd.unwrap_or(0) != 0 {
                        return Err(format!("{}: bad file descriptor", fd.unwrap_or(0)));
                    }
                    let s = self.expand_one(p, &io, &w.value).await? + "\n";
                    io.stdin = In::new(std::io::Cursor::new(s.into_bytes()));
                }
                ast::IoRedirect::OutputAndError(w, append) => {
                    let name = self.expand_one(p, &io, &w.value).await?;
                    let kind = if *append {
                        ast::IoFileRedirectKind::Append
                    } else {
                        ast::IoFileRedirectKind::Write
                    };
                    let o = Out::new(self.open(&name, kind)?);
                    io.stdout = o.clone();
                    io.stderr = o;
                }
            }
        }
        Ok(io)
    }

    /// `n>&m`, `n<&m`.
    fn dup(&self, io: &mut Stdio, fd: i32, to: i32, input: bool) -> Result<(), String> {
        if input {
            return match (fd, to) {
                (0, 0) => Ok(()),
                _ => Err(format!("{to}: bad file descriptor")),
            };
        }
        let o = match to {
            1 => io.stdout.clone(),
            2 => io.stderr.clone(),
            _ => return Err(format!("{to}: bad file descriptor")),
        };
        set_out(io, fd, o)
    }

    /// Open a file for a redirection, relative to the working directory.
    fn open(&self, name: &str, kind: ast::IoFileRedirectKind) -> Result<File, String> {
        use ast::IoFileRedirectKind as K;
        let path = self.cwd.join(name);
        let mut o = OpenOptions::new();
        match kind {
            K::Read | K::DuplicateInput => o.read(true),
            K::Append => o.append(true).create(true),
            K::ReadAndWrite => o.read(true).write(true).create(true),
            _ => o.write(true).create(true).truncate(true),
        };
        o.open(&path)
            .map_err(|e| format!("cannot open {name}: {}", crate::userland::strerror(&e)))
    }
}

fn set_out(io: &mut Stdio, fd: i32, o: Out) -> Result<(), String> {
    match fd {
        1 => io.stdout = o,
        2 => io.stderr = o,
        n => return Err(format!("{n}: bad file descriptor")),
    }
    Ok(())
}
