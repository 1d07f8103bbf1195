//! Run a built lab: captures, sysctls, each node's startup commands, then
//! the timeline, every command a process of its node whose output is
//! kept apart. [`play`] is the timeline as a process of its own (the
//! daemon runs it beside its clients' commands); [`run`] drives a host
//! through it and returns the records in time order.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use crate::host::Host;
use crate::kern::jail::Jid;
use crate::kern::proc::{In, Out, Proc, Stdio};
use crate::kern::task::{KILLED, TaskId};
use crate::userland::{self, shell};

use super::{Action, Built, Lab};

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Stop then (default: the lab's `until`, else a second after the last
    /// event, longer while commands started in the foreground still run).
    pub until: Option<Duration>,
    /// Capture every link end into this directory.
    pub pcap: Option<PathBuf>,
    /// Leave background commands (servers) and captures running at the
    /// end: the lab lives on (in the daemon).
    pub keep_servers: bool,
}

/// One command and what it did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Record {
    /// Seconds since the lab started.
    pub at: f64,
    pub node: Option<String>,
    pub cmd: String,
    /// None: still running at the end (a server), stopped then.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Both, as a terminal would have shown them.
    #[serde(skip)]
    pub output: String,
    /// It did what it was meant to (`! cmd` is meant to fail).
    #[serde(skip)]
    pub ok: bool,
    /// Its place in the order commands were started.
    #[serde(skip)]
    pub seq: usize,
}

/// Where records go, as commands finish.
pub type Emit = Rc<dyn Fn(Record)>;

type Buf = Rc<RefCell<Vec<u8>>>;

/// Writes to its own buffer and to a shared one, while the record is
/// still to be made (a server the lab leaves running writes to no one).
struct Tee(Buf, Buf, Rc<Cell<bool>>);

impl std::io::Write for Tee {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if !self.2.get() {
            self.0.borrow_mut().extend_from_slice(b);
            self.1.borrow_mut().extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A started command: what its process and the player share.
struct Cmd {
    seq: usize,
    at: Duration,
    node: Option<String>,
    cmd: String,
    /// Started with `&`: it may run to the end.
    background: bool,
    /// Written `! cmd`: it is meant to fail.
    expect_fail: bool,
    out: Buf,
    err: Buf,
    /// Both, in the order written (what a terminal shows).
    both: Buf,
    /// Its record went out (or never will): its output goes nowhere.
    done: Rc<Cell<bool>>,
}

impl Cmd {
    fn record(&self, status: Option<i32>, note: &str) -> Record {
        self.done.set(true);
        let text = |b: &Buf| String::from_utf8_lossy(&b.borrow()).into_owned();
        Record {
            at: self.at.as_secs_f64(),
            node: self.node.clone(),
            cmd: self.cmd.clone(),
            status,
            stdout: text(&self.out),
            stderr: text(&self.err) + note,
            output: text(&self.both) + note,
            ok: status.is_none_or(|st| (st != 0) == self.expect_fail),
            seq: self.seq,
        }
    }
}

/// The timeline's process: what it started, and where records go.
struct Player {
    p: Proc,
    lab: Rc<Lab>,
    emit: Emit,
    cmds: Vec<(Rc<Cmd>, Option<TaskId>)>,
    /// The captures (`--pcap`), apart: they are not the lab's commands.
    captures: Vec<(Rc<Cmd>, Option<TaskId>)>,
    /// Commands started so far (captures too).
    seq: usize,
}

impl Drop for Player {
    /// When the timeline ends, or is itself stopped: foreground commands
    /// still running stop; servers and captures left running (in the
    /// daemon) run on unwatched, forgotten when they end.
    fn drop(&mut self) {
        let tasks = self.p.tasks();
        for (c, t) in self.cmds.iter().chain(&self.captures) {
            c.done.set(true);
            match *t {
                Some(t) if !c.background && tasks.status(t).is_none() => {
                    tasks.kill(t);
                    tasks.reap(t);
                }
                Some(t) => tasks.detach(t),
                None => {}
            }
        }
    }
}

impl Player {
    /// Start `cmd` (in `node`'s jail if given) at `at`; its record goes
    /// out when it ends.
    fn start(&mut self, at: Duration, node: Option<usize>, cmd: &str) {
        let (out, err, both): (Buf, Buf, Buf) = Default::default();
        let trimmed = cmd.trim();
        let bare = trimmed
            .trim_start_matches('!')
            .trim_start()
            .trim_end_matches('&')
            .trim_end();
        // A line in the shell's language; plain words run as they are.
        let mut argv: Vec<String> = match shell::plain_words(bare) {
            Some(w) => w,
            None => vec!["sh".into(), "-c".into(), bare.to_string()],
        };
        if let Some(n) = node {
            argv.splice(0..0, ["jexec".to_string(), self.lab.nodes[n].name.clone()]);
        }
        self.seq += 1;
        let done = Rc::new(Cell::new(false));
        let c = Rc::new(Cmd {
            seq: self.seq,
            at,
            node: node.map(|n| self.lab.nodes[n].name.clone()),
            cmd: trimmed.to_string(),
            background: trimmed.ends_with('&'),
            expect_fail: trimmed.starts_with('!'),
            out: out.clone(),
            err: err.clone(),
            both: both.clone(),
            done: done.clone(),
        });
        let (o, e) = (
            Out::new(Tee(out, both.clone(), done.clone())),
            Out::new(Tee(err, both, done)),
        );
        let task = if bare.is_empty() {
            (self.emit)(c.record(Some(0), ""));
            None
        } else {
            let io = Stdio {
                stdin: In::null(),
                stdout: o,
                stderr: e,
            };
            let cmd = userland::run(self.p.with_stdio(io), argv);
            let (c, emit) = (c.clone(), self.emit.clone());
            Some(self.p.spawn(Box::pin(async move {
                let st = cmd.await;
                emit(c.record(Some(st), ""));
                st
            })))
        };
        self.cmds.push((c, task));
    }

    fn busy(&self) -> bool {
        let tasks = self.p.tasks();
        self.cmds
            .iter()
            .any(|(c, t)| !c.background && t.is_some_and(|t| tasks.status(t).is_none()))
    }
}

/// The lab's timeline as a process: start the captures, sysctls and
/// startup commands, then each event at its time; wait as [`Options`]
/// say; stop what still runs (unless kept) and give every command's
/// record to `emit` as it ends. True if every command did as meant.
pub async fn play(p: Proc, lab: Rc<Lab>, built: Rc<Built>, opts: Options, emit: Emit) -> bool {
    let ok = Rc::new(Cell::new(true));
    let emit: Emit = {
        let ok = ok.clone();
        Rc::new(move |r: Record| {
            if !r.ok {
                ok.set(false);
            }
            emit(r)
        })
    };
    let t0 = p.now();
    let since = |p: &Proc| p.now().saturating_sub(t0);
    let mut pl = Player {
        p: p.clone(),
        lab: lab.clone(),
        emit,
        cmds: Vec::new(),
        captures: Vec::new(),
        seq: 0,
    };
    if let Some(dir) = &opts.pcap {
        let _ = std::fs::create_dir_all(dir);
        for (l, (ia, ib)) in lab.links.iter().zip(&built.ifnames) {
            for (n, ifname) in [(l.a, ia), (l.b, ib)] {
                let path = dir.join(format!("{}-{ifname}.pcap", lab.nodes[n].name));
                let cmd = format!("tcpdump -i {ifname} -w {} &", path.display());
                pl.start(Duration::ZERO, Some(n), &cmd);
            }
        }
        pl.captures = std::mem::take(&mut pl.cmds);
    }
    for (i, n) in lab.nodes.iter().enumerate() {
        for (k, v) in &n.sysctl {
            pl.start(Duration::ZERO, Some(i), &format!("sysctl {k}={v}"));
            p.settle().await;
        }
    }
    for (i, n) in lab.nodes.iter().enumerate() {
        for c in &n.run {
            pl.start(Duration::ZERO, Some(i), c);
        }
    }
    p.settle().await;
    for e in &lab.events {
        if e.at > since(&p) {
            p.sleep_until(t0.saturating_add(e.at)).await;
        }
        let at = since(&p);
        // A link event is the commands it stands for, on both ends.
        let link_cmds = |li: usize, what: &str| {
            let l = &lab.links[li];
            let (ia, ib) = &built.ifnames[li];
            [(l.a, ia), (l.b, ib)]
                .map(|(n, i)| (Some(n), what.replace("IF", i)))
                .to_vec()
        };
        let cmds: Vec<(Option<usize>, String)> = match &e.action {
            Action::Run(c) => vec![(e.node, c.clone())],
            Action::LinkDown(li) => link_cmds(*li, "ifconfig IF down"),
            Action::LinkUp(li) => link_cmds(*li, "ifconfig IF up"),
            Action::LinkEmu(li, emu) => link_cmds(*li, &format!("pipe IF config {}", emu.0.join(" "))),
        };
        for (n, c) in cmds {
            pl.start(at, n, &c);
        }
        p.settle().await;
    }
    // The end: as asked, else a second after the last event, and on while
    // foreground commands still run (a minute at most).
    let last = lab.events.last().map_or(Duration::ZERO, |e| e.at);
    match opts.until.or(lab.until) {
        Some(u) => p.sleep_until(t0.saturating_add(u)).await,
        None => {
            p.sleep_until(t0.saturating_add(last + Duration::from_secs(1))).await;
            let cap = last + Duration::from_secs(61);
            while pl.busy() && since(&p) < cap {
                p.sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let tasks = p.tasks();
    if !opts.keep_servers {
        for t in pl.captures.drain(..).filter_map(|(_, t)| t) {
            tasks.kill(t);
            tasks.reap(t);
        }
    }
    for (c, t) in &pl.cmds {
        let Some(t) = *t else { continue };
        match tasks.status(t) {
            None if c.background && opts.keep_servers => continue,
            None => {
                tasks.kill(t);
                let r = if c.background {
                    c.record(None, "")
                } else {
                    c.record(Some(KILLED), "(still running at the end: stopped)\n")
                };
                (pl.emit)(r);
            }
            Some(st) if !c.done.get() => (pl.emit)(c.record(Some(st), "")),
            Some(_) => {}
        }
        tasks.reap(t);
    }
    ok.get()
}

/// Run the lab on `host` (driving its engine to the end); the records in
/// time order, and whether everything did as meant.
pub fn run(host: &Host, lab: &Lab, built: &Built, opts: &Options) -> (Vec<Record>, bool) {
    let records: Rc<RefCell<Vec<Record>>> = Rc::default();
    let emit: Emit = {
        let records = records.clone();
        Rc::new(move |r| records.borrow_mut().push(r))
    };
    let p = host.proc(Jid::HOST, Stdio::null_all());
    let lab_play = play(
        p.clone(),
        Rc::new(lab.clone()),
        Rc::new(built.clone()),
        opts.clone(),
        emit,
    );
    let task = p.spawn(Box::pin(async move { i32::from(!lab_play.await) }));
    let ok = host.wait(task) == Ok(0);
    let mut records = records.take();
    records.sort_by(|a, b| a.at.total_cmp(&b.at).then(a.seq.cmp(&b.seq)));
    (records, ok)
}

/// Records as text: a header per command, then what it printed.
pub fn format(records: &[Record]) -> String {
    let mut s = String::new();
    for r in records {
        let node = r.node.as_deref().unwrap_or("host");
        s += &format!("[{:>8.3} {node}] {}\n", r.at, r.cmd);
        s += &r.output;
        if let Some(st) = r.status.filter(|&st| st != 0) {
            let expected = if r.cmd.starts_with('!') { ", as meant" } else { "" };
            s += &format!("[exit status {st}{expected}]\n");
        }
    }
    s
}
