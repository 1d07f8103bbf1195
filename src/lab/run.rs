//! Run a built lab: captures, sysctls, each node's startup commands, then
//! the timeline, every command a process of its node whose output is
//! kept apart; the records come back in time order.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use crate::host::Host;
use crate::kern::clock::Time;
use crate::kern::proc::Out;
use crate::kern::task::TaskId;
use crate::userland::shell::Shell;

use super::{Action, Built, Lab};

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Stop then (default: the lab's `until`, else a second after the last
    /// event, longer while commands started in the foreground still run).
    pub until: Option<Duration>,
    /// Capture every link end into this directory.
    pub pcap: Option<PathBuf>,
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
}

struct Started {
    at: Duration,
    node: Option<String>,
    cmd: String,
    task: Option<TaskId>,
    /// Started with `&`: it may run to the end.
    background: bool,
    /// Written `! cmd`: it is meant to fail.
    expect_fail: bool,
    out: Buf,
    err: Buf,
    /// Both, in the order written (what a terminal shows).
    both: Buf,
    failed_to_start: Option<String>,
}

type Buf = Rc<RefCell<Vec<u8>>>;

/// Writes to its own buffer and to a shared one.
struct Tee(Buf, Buf);

impl std::io::Write for Tee {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        self.1.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Start `cmd` (in `node`'s jail if given) at `at`.
fn start(host: &Host, lab: &Lab, at: Duration, node: Option<usize>, cmd: &str) -> Started {
    let (obuf, ebuf, both): (Buf, Buf, Buf) = Default::default();
    let out = Out::new(Tee(obuf.clone(), both.clone()));
    let err = Out::new(Tee(ebuf.clone(), both.clone()));
    let trimmed = cmd.trim();
    let background = trimmed.ends_with('&');
    let expect_fail = trimmed.starts_with('!');
    let bare = trimmed
        .trim_start_matches('!')
        .trim_start()
        .trim_end_matches('&')
        .trim_end();
    let line = match node {
        Some(n) => format!("jexec {} {bare}", lab.nodes[n].name),
        None => bare.to_string(),
    };
    let mut sh = Shell::new(host, out, err);
    let (task, failed) = match sh.start(&line) {
        Ok(t) => (t, None),
        Err(e) => (None, Some(e)),
    };
    Started {
        at,
        node: node.map(|n| lab.nodes[n].name.clone()),
        cmd: trimmed.to_string(),
        task,
        background,
        expect_fail,
        out: obuf,
        err: ebuf,
        both,
        failed_to_start: failed,
    }
}

/// Run the lab; the records in time order, and whether everything
/// succeeded.
pub fn run(host: &Host, lab: &Lab, built: &Built, opts: &Options) -> (Vec<Record>, bool) {
    let t0 = host.now();
    let since = |t: Time| t.saturating_sub(t0);
    let mut started: Vec<Started> = Vec::new();
    let mut captures = Vec::new();
    if let Some(dir) = &opts.pcap {
        let _ = std::fs::create_dir_all(dir);
        for (l, (ia, ib)) in lab.links.iter().zip(&built.ifnames) {
            for (n, ifname) in [(l.a, ia), (l.b, ib)] {
                let path = dir.join(format!("{}-{ifname}.pcap", lab.nodes[n].name));
                let cmd = format!("tcpdump -i {ifname} -w {}", path.display());
                captures.push(start(host, lab, Duration::ZERO, Some(n), &cmd));
            }
        }
    }
    for (i, n) in lab.nodes.iter().enumerate() {
        for (k, v) in &n.sysctl {
            started.push(start(host, lab, Duration::ZERO, Some(i), &format!("sysctl {k}={v}")));
            host.run_for(Duration::ZERO);
        }
    }
    for (i, n) in lab.nodes.iter().enumerate() {
        for c in &n.run {
            started.push(start(host, lab, Duration::ZERO, Some(i), c));
        }
    }
    host.run_for(Duration::ZERO);
    for e in &lab.events {
        let now = since(host.now());
        if e.at > now {
            host.run_for(e.at - now);
        }
        let at = since(host.now());
        // A link event is the commands it stands for, on both ends.
        let link_cmds = |li: usize, what: &str| {
            let l = &lab.links[li];
            let (ia, ib) = &built.ifnames[li];
            [(l.a, ia), (l.b, ib)].map(|(n, i)| (n, what.replace("IF", i)))
        };
        let cmds: Vec<(Option<usize>, String)> = match &e.action {
            Action::Run(c) => vec![(e.node, c.clone())],
            Action::LinkDown(li) => link_cmds(*li, "ifconfig IF down").map(|(n, c)| (Some(n), c)).to_vec(),
            Action::LinkUp(li) => link_cmds(*li, "ifconfig IF up").map(|(n, c)| (Some(n), c)).to_vec(),
            Action::LinkEmu(li, emu) => link_cmds(*li, &format!("pipe IF config {}", emu.0.join(" ")))
                .map(|(n, c)| (Some(n), c))
                .to_vec(),
        };
        for (n, c) in cmds {
            started.push(start(host, lab, at, n, &c));
        }
        host.run_for(Duration::ZERO);
    }
    // The end: as asked, else a second after the last event, and on while
    // foreground commands still run (a minute at most).
    let last = lab.events.last().map_or(Duration::ZERO, |e| e.at);
    match opts.until.or(lab.until) {
        Some(u) => {
            let now = since(host.now());
            if u > now {
                host.run_for(u - now);
            }
        }
        None => {
            let now = since(host.now());
            host.run_for((last + Duration::from_secs(1)).saturating_sub(now));
            let busy = |s: &Started| !s.background && s.task.is_some_and(|t| host.tasks().status(t).is_none());
            let cap = last + Duration::from_secs(61);
            while started.iter().any(busy) && since(host.now()) < cap {
                host.run_for(Duration::from_millis(100));
            }
        }
    }
    let mut ok = true;
    let mut records = Vec::new();
    for c in captures {
        if let Some(t) = c.task {
            host.tasks().kill(t);
            host.tasks().reap(t);
        }
    }
    for s in started {
        let status = match (s.task, &s.failed_to_start) {
            (_, Some(_)) => Some(1),
            (Some(t), None) => {
                let st = host.tasks().status(t);
                if st.is_none() {
                    host.tasks().kill(t);
                }
                host.tasks().reap(t);
                st
            }
            (None, None) => Some(0),
        };
        let text = |b: &Buf| String::from_utf8_lossy(&b.borrow()).into_owned();
        let (mut stderr, mut output) = (text(&s.err), text(&s.both));
        let mut note = |m: &str| {
            stderr += m;
            output += m;
        };
        if let Some(e) = &s.failed_to_start {
            note(&format!("{e}\n"));
        }
        let status = match status {
            None if !s.background => {
                note("(still running at the end: stopped)\n");
                Some(crate::kern::task::KILLED)
            }
            st => st,
        };
        if status.is_some_and(|st| (st != 0) != s.expect_fail) {
            ok = false;
        }
        records.push(Record {
            at: s.at.as_secs_f64(),
            node: s.node,
            cmd: s.cmd,
            status,
            stdout: text(&s.out),
            stderr,
            output,
        });
    }
    records.sort_by(|a, b| a.at.total_cmp(&b.at));
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
