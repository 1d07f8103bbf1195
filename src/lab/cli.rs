//! `vimage run LAB.toml` and `vimage graph LAB.toml`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use super::{Lab, Options, build, dot, format, run, svg};
use crate::host::Host;
use crate::kern::Config;
use crate::kern::clock::{ClockKind, parse_duration};

/// build a lab from its file and run its timeline
#[derive(Parser, Debug)]
#[command(name = "vimage run", bin_name = "vimage run")]
pub struct RunArgs {
    #[command(flatten)]
    src: Source,
    /// The seed of every random generator (default: the lab's, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// The clock (default: the lab's, else virtual).
    #[arg(long)]
    clock: Option<ClockKind>,
    /// How long to run (default: the lab's `until`, else a second after
    /// the last event and while foreground commands run).
    #[arg(long, value_name = "DURATION")]
    until: Option<String>,
    /// Capture every link end into DIR (one pcap per interface).
    #[arg(long, value_name = "DIR")]
    pcap: Option<PathBuf>,
    /// One JSON object per command instead of text.
    #[arg(long)]
    json: bool,
    /// Load the lab into the running daemon (its real clock and seed);
    /// the lab lives on after its timeline, servers still running.
    #[arg(long, conflicts_with_all = ["seed", "clock"])]
    daemon: bool,
}

/// draw a lab
#[derive(Parser, Debug)]
#[command(name = "vimage graph", bin_name = "vimage graph")]
pub struct GraphArgs {
    #[command(flatten)]
    src: Source,
    /// Graphviz DOT instead of SVG.
    #[arg(long)]
    dot: bool,
    /// Write here instead of standard output.
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Where a lab comes from: its file, or a topology named on the command
/// line.
#[derive(clap::Args, Debug)]
struct Source {
    /// The lab file (TOML; see docs/LABS.md).
    #[arg(required_unless_present = "topology")]
    lab: Option<String>,
    /// A generated lab instead of a file: chain:N, star:N, tree:N,
    /// grid:ROWSxCOLS or random:N (routers, routes = "auto").
    #[arg(long, value_name = "KIND:SIZE", conflicts_with = "lab")]
    topology: Option<String>,
}

impl Source {
    /// The lab's name (for messages) and its text.
    fn read(&self) -> Result<(String, String), String> {
        if let Some(f) = &self.lab {
            return std::fs::read_to_string(f)
                .map(|t| (f.clone(), t))
                .map_err(|e| format!("{f}: {e}"));
        }
        let t = self.topology.as_deref().unwrap_or_default();
        let bad = || format!("--topology {t}: expected chain:N, star:N, tree:N, grid:ROWSxCOLS or random:N");
        let (kind, size) = t.split_once(':').ok_or_else(bad)?;
        let num = |x: &str| x.parse::<u64>().map_err(|_| bad());
        let size = match (kind, size.split_once('x')) {
            ("grid", Some((r, c))) => format!("[{}, {}]", num(r)?, num(c)?),
            ("chain" | "star" | "tree" | "random", None) => num(size)?.to_string(),
            _ => return Err(bad()),
        };
        let text = format!("name = \"{t}\"\nroutes = \"auto\"\n[topology]\nkind = \"{kind}\"\nsize = {size}\n");
        Ok((format!("--topology {t}"), text))
    }

    fn load(&self) -> Result<(String, Lab), String> {
        let (file, text) = self.read()?;
        let lab = Lab::parse(&file, &text).map_err(|e| e.to_string())?;
        Ok((file, lab))
    }
}

fn parse_args<T: Parser>(argv: &[String]) -> Result<T, i32> {
    T::try_parse_from(argv).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() { 2 } else { 0 }
    })
}

/// The default lab: what `vimage` with no arguments runs.
pub const DEFAULT_LAB: &str = include_str!("../../examples/labs/demo.toml");

/// `vimage` with no arguments: show the default lab's file, then run it.
pub fn default_main() -> i32 {
    println!("# The lab file (examples/labs/demo.toml; vimage graph draws it):\n");
    for l in DEFAULT_LAB.lines().filter(|l| !l.starts_with('#')) {
        println!("    {l}");
    }
    println!();
    run_lab(
        Lab::parse("examples/labs/demo.toml", DEFAULT_LAB),
        "demo",
        None,
        None,
        false,
    )
}

/// `vimage run ...` (`argv[0]` is "run"); the exit status. `socket`:
/// the daemon's, for `--daemon`.
pub fn run_main(argv: &[String], socket: Option<PathBuf>) -> i32 {
    let a: RunArgs = match parse_args(argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    if a.daemon {
        return run_in_daemon(a, socket);
    }
    let until = match a.until.as_deref().map(parse_duration) {
        Some(Err(e)) => {
            eprintln!("vimage: --until: {e}");
            return 2;
        }
        Some(Ok(d)) => Some(d),
        None => None,
    };
    let (file, lab) = match a.src.load() {
        Ok((f, mut l)) => {
            if let Some(s) = a.seed {
                l.seed = s;
            }
            if let Some(c) = a.clock {
                l.clock = c;
            }
            (f, l)
        }
        Err(e) => {
            eprintln!("vimage: {e}");
            return 2;
        }
    };
    run_lab(Ok(lab), &file, until, a.pcap, a.json)
}

/// `vimage run --daemon`: send the lab to the daemon and show what it
/// runs as each command ends.
#[cfg(unix)]
fn run_in_daemon(a: RunArgs, socket: Option<PathBuf>) -> i32 {
    use crate::daemon::{LabRequest, client, proto::Kind, socket_path};
    let (file, text) = match a.src.read() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("vimage: {e}");
            return 2;
        }
    };
    // Files are the daemon's to write: give it an absolute directory.
    let pcap = match a
        .pcap
        .map(|d| std::fs::create_dir_all(&d).and_then(|()| d.canonicalize()))
    {
        Some(Err(e)) => {
            eprintln!("vimage: --pcap: {e}");
            return 2;
        }
        Some(Ok(d)) => Some(d),
        None => None,
    };
    let req = LabRequest {
        file,
        text,
        until: a.until,
        pcap,
        json: a.json,
    };
    let path = socket_path(socket);
    let Some(s) = client::connect(&path) else {
        eprintln!(
            "vimage: no daemon listens on {} (start one: vimage daemon)",
            path.display()
        );
        return 1;
    };
    client::request(s, Kind::Lab, &serde_json::to_vec(&req).unwrap_or_default())
}

#[cfg(not(unix))]
fn run_in_daemon(_: RunArgs, _: Option<PathBuf>) -> i32 {
    eprintln!("vimage: the daemon needs Unix sockets");
    2
}

fn run_lab(
    lab: Result<Lab, super::LabError>,
    file: &str,
    until: Option<std::time::Duration>,
    pcap: Option<PathBuf>,
    json: bool,
) -> i32 {
    let lab = match lab {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vimage: {e}");
            return 2;
        }
    };
    let host = Host::new(Config {
        clock: lab.clock,
        seed: lab.seed,
        ..Config::default()
    });
    let t = Instant::now();
    let built = match build(&host, &lab) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("vimage: {file}: {e}");
            return 1;
        }
    };
    let took = t.elapsed();
    let heap = crate::alloc::live_bytes();
    if !json {
        let clock = match lab.clock {
            ClockKind::Virtual => "virtual clock",
            ClockKind::Real => "real clock",
        };
        println!("{}", summary(&lab, file, &format!("seed {}, {clock}", lab.seed)));
    }
    eprintln!(
        "vimage: built in {:.1} ms{}",
        took.as_secs_f64() * 1e3,
        heap.map(|h| format!(", heap {:.1} MB", h as f64 / 1e6))
            .unwrap_or_default()
    );
    let opts = Options {
        until,
        pcap,
        keep_servers: false,
    };
    let (records, ok) = run(&host, &lab, &built, &opts);
    if json {
        for r in &records {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
    } else {
        print!("{}", format(&records));
    }
    host.tasks().kill_all();
    drop(host);
    i32::from(!ok)
}

/// The first line of a run: what the lab is.
pub fn summary(lab: &Lab, file: &str, how: &str) -> String {
    format!(
        "# {}: {} nodes, {} links, {} routes ({how})",
        if lab.name.is_empty() { file } else { &lab.name },
        lab.nodes.len(),
        lab.links.len(),
        lab.routes.len(),
    )
}

/// `vimage graph ...`; the exit status.
pub fn graph_main(argv: &[String]) -> i32 {
    let a: GraphArgs = match parse_args(argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let lab = match a.src.load() {
        Ok((_, l)) => l,
        Err(e) => {
            eprintln!("vimage: {e}");
            return 2;
        }
    };
    let text = if a.dot { dot(&lab) } else { svg(&lab) };
    match &a.output {
        Some(p) => match std::fs::write(p, text) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("vimage: {}: {e}", p.display());
                1
            }
        },
        None => {
            print!("{text}");
            0
        }
    }
}
