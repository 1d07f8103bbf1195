//! The `vimage` command: the demo, the shell, benchmarks, or any userland
//! command run once on a fresh host.

use std::process::ExitCode;

use clap::Parser;
use vimage::userland::{bench, bench_bgp, demo, shell};
use vimage::{ClockKind, Config, Host, Out, Stdio};

#[global_allocator]
static ALLOC: vimage::alloc::CountingAlloc = vimage::alloc::CountingAlloc;

/// FreeBSD's VIMAGE network stack virtualization, in user space.
///
/// With no command: run the default lab.
#[derive(Parser, Debug)]
#[command(name = "vimage", version, after_help = AFTER_HELP)]
struct Cli {
    /// The clock: virtual (discrete-event, repeatable) or real [default:
    /// virtual; real for the shell at a terminal].
    #[arg(long)]
    clock: Option<ClockKind>,
    /// The seed of every random generator of the run.
    #[arg(long, default_value_t = vimage::kern::DEFAULT_SEED)]
    seed: u64,
    /// The daemon's control socket (default: $VIMAGE_SOCKET, else
    /// $XDG_RUNTIME_DIR/vimage.sock, else /tmp/vimage-$USER.sock).
    #[arg(long, value_name = "PATH")]
    socket: Option<std::path::PathBuf>,
    /// demo | shell [SCRIPT] | bench vnets [N...] | any command (see help)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    command: Vec<String>,
}

const AFTER_HELP: &str = "Commands:
  (no command)         run the default lab (examples/labs/demo.toml)
  demo                 a scripted tour of the FreeBSD commands
  run LAB.toml         build a lab from its file and run its timeline (run --help)
  graph LAB.toml       draw a lab as SVG (or --dot)
  daemon [-f] | stop   keep stacks alive under the real clock (in the background;
                       -f: in the foreground); then every COMMAND runs there
  run --daemon LAB     load a lab into the running daemon
  shell [SCRIPT]       the interactive shell, or run a script of commands
  bench vnets [N...]   vnets created/destroyed per second, bytes per vnet
  bench forward [P]    64-byte frames forwarded per second over a 10-vnet chain
  bench route [R]      route lookups per second in a table of R routes
  bench ospf [N]       an N x N grid of routers running ospfd (N = 32): time until all are routed
  bench bgp [N] [--frr] a BGP session receiving N prefixes (1,000,000): wall time, bytes per prefix;
                       --frr: FRR's bgpd and zebra fed the same, side by side (root)
  bench tcp [MB [N MTU]] TCP throughput: one epair at MTU 1500 and 65535, a 10-vnet chain
                       (or N vnets in a chain at MTU)
  bench shim [MB [N]]  host programs in jails: TCP throughput and HTTP connections/s,
                       beside Linux loopback
  help [COMMAND]       the userland commands (jail, jls, jexec, sysctl, ...)
  COMMAND [ARGS...]    run one userland command in the daemon if one listens,
                       else on a fresh host";

fn main() -> ExitCode {
    // Called by a command's name (a link to this binary): that command,
    // in the jail of the program calling it if there is one.
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("vimage");
    let cli = if name != "vimage" && vimage::userland::lookup(name).is_some() {
        let mut argv: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
        argv[0] = name.to_string();
        #[cfg(target_os = "linux")]
        if let Some(st) = vimage::userland::shim::command(&argv) {
            return ExitCode::from(st.clamp(0, 255) as u8);
        }
        Cli::parse_from(std::iter::once("vimage".to_string()).chain(argv))
    } else {
        Cli::parse()
    };
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let interactive = tty && cli.command.len() == 1 && cli.command[0] == "shell";
    let clock = cli.clock.unwrap_or(if interactive {
        ClockKind::Real
    } else {
        ClockKind::Virtual
    });
    let cfg = Config {
        clock,
        seed: cli.seed,
        ..Config::default()
    };
    let out = Out::stdout();
    let args: Vec<&str> = cli.command.iter().map(String::as_str).collect();
    let status = match args.as_slice() {
        [] => vimage::lab::cli::default_main(),
        ["demo"] => demo::run(&Host::new(cfg), &out),
        ["run", ..] => vimage::lab::cli::run_main(&cli.command, cli.socket.clone()),
        ["daemon", ..] => daemon_main(&cli.command, cli.socket.clone(), cli.seed),
        ["graph", ..] => vimage::lab::cli::graph_main(&cli.command),
        ["shell"] => {
            let host = Host::new(cfg);
            if tty {
                catch_sigint(&host);
            }
            shell::main(&host, None)
        }
        ["shell", script] => shell::main(&Host::new(cfg), Some(script)),
        ["bench", "vnets", sizes @ ..] => {
            let sizes: Result<Vec<usize>, _> = sizes.iter().map(|s| s.parse::<usize>()).collect();
            match sizes {
                Ok(s) if s.is_empty() => bench::vnets(&[1_000, 100_000, 1_000_000], &out),
                Ok(s) => bench::vnets(&s, &out),
                Err(e) => {
                    eprintln!("vimage: bench: {e}");
                    2
                }
            }
        }
        ["bench", "ospf"] => bench::ospf(32, &out),
        ["bench", "bgp"] => bench_bgp::bgp(1_000_000, &out),
        ["bench", "bgp", "--frr"] => {
            let s = bench_bgp::bgp(1_000_000, &out);
            bench_bgp::bgp_frr(1_000_000, &out);
            s
        }
        ["bench", "bgp", n, "--frr"] => match n.parse() {
            Ok(n) => {
                let s = bench_bgp::bgp(n, &out);
                bench_bgp::bgp_frr(n, &out);
                s
            }
            Err(e) => {
                eprintln!("vimage: bench: {e}");
                2
            }
        },
        ["bench", "bgp", n] => match n.parse() {
            Ok(n) => bench_bgp::bgp(n, &out),
            Err(e) => {
                eprintln!("vimage: bench: {e}");
                2
            }
        },
        ["bench", "ospf", n] => match n.parse() {
            Ok(n) => bench::ospf(n, &out),
            Err(e) => {
                eprintln!("vimage: bench: {e}");
                2
            }
        },
        ["bench", "forward"] => bench::forward(1_000_000, false, &out),
        ["bench", "forward", "-6"] => bench::forward(1_000_000, true, &out),
        ["bench", "forward", "-6", n] | ["bench", "forward", n] => match n.parse() {
            Ok(n) => bench::forward(n, args.contains(&"-6"), &out),
            Err(e) => {
                eprintln!("vimage: bench: {e}");
                2
            }
        },
        ["bench", "tcp"] => bench::tcp(1024, false, &out),
        ["bench", "tcp", "-6"] => bench::tcp(1024, true, &out),
        ["bench", "tcp", "-6", n] | ["bench", "tcp", n] => match n.parse() {
            Ok(n) => bench::tcp(n, args.contains(&"-6"), &out),
            Err(e) => {
                eprintln!("vimage: bench: {e}");
                2
            }
        },
        ["bench", "tcp", mb, vnets, mtu] => match (mb.parse::<usize>(), vnets.parse::<usize>(), mtu.parse::<u32>()) {
            (Ok(mb), Ok(n), Ok(mtu)) => match bench::tcp_throughput(n, mtu, mb << 20, false) {
                Ok(g) => {
                    println!("tcp: {n} vnets, MTU {mtu}: {g:.2} Gbit/s ({mb} MB)");
                    0
                }
                Err(e) => {
                    eprintln!("vimage: bench: {e}");
                    1
                }
            },
            _ => {
                eprintln!("vimage: bench: tcp MBYTES VNETS MTU: numbers");
                2
            }
        },
        #[cfg(target_os = "linux")]
        ["bench", "shim", rest @ ..] => {
            let n: Vec<Option<usize>> = rest.iter().map(|s| s.parse().ok()).collect();
            match n.as_slice() {
                [] => vimage::userland::bench_shim::shim(2048, 20_000, &out),
                [Some(mb)] => vimage::userland::bench_shim::shim(*mb, 20_000, &out),
                [Some(mb), Some(c)] => vimage::userland::bench_shim::shim(*mb, *c, &out),
                _ => {
                    eprintln!("vimage: bench: shim [MBYTES [CONNECTIONS]]: numbers");
                    2
                }
            }
        }
        #[cfg(target_os = "linux")]
        ["__peer", rest @ ..] => vimage::userland::bench_shim::peer(rest),
        ["bench", "route"] => bench::route(100_000, &out),
        ["bench", "route", n] => match n.parse() {
            Ok(n) => bench::route(n, &out),
            Err(e) => {
                eprintln!("vimage: bench: {e}");
                2
            }
        },
        ["bench", ..] => {
            eprintln!("usage: vimage bench vnets [N...] | forward [-6] [PACKETS] | route [ROUTES] | tcp [-6] [MBYTES]");
            2
        }
        _ => {
            #[cfg(unix)]
            {
                use vimage::daemon::{client, proto::Kind, socket_path};
                let path = socket_path(cli.socket.clone());
                let why = match client::find(&path) {
                    client::Found::Up(s) => {
                        let argv = serde_json::to_vec(&cli.command).unwrap_or_default();
                        let st = client::request(s, Kind::Argv, &argv);
                        return ExitCode::from(st.clamp(0, 255) as u8);
                    }
                    client::Found::Nothing => None,
                    client::Found::NotOurs => Some("belongs to another user: not using it".to_string()),
                    client::Found::Dead(e) => Some(format!("{e} (a daemon that died? vimage daemon replaces it)")),
                };
                if let Some(why) = why {
                    eprintln!("vimage: daemon: {}: {why}; running on a fresh host", path.display());
                }
            }
            if changes_state(&cli.command) {
                eprintln!("vimage: no daemon: this host ends with the command (start one with `vimage daemon`)");
            }
            let host = Host::new(cfg);
            catch_sigint(&host);
            let (t, intr) = host.spawn_fg(cli.command.clone(), Stdio::inherit());
            match host.wait_fg(t, &intr) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("vimage: {}: {e}", cli.command[0]);
                    1
                }
            }
        }
    };
    ExitCode::from(status.clamp(0, 255) as u8)
}

/// ^C is the foreground command's SIGINT (ping prints its statistics),
/// under either clock; a second one, before the first is taken, leaves.
fn catch_sigint(host: &Host) {
    let nudge = host.kernel().ext_sender();
    let _ = ctrlc::set_handler(move || {
        if vimage::kern::SIGINT.swap(true, std::sync::atomic::Ordering::Relaxed) {
            std::process::exit(130);
        }
        let _ = nudge.send(vimage::kern::Ext::Wake);
    });
}

/// Does a one-shot command change the host's state (which, without a
/// daemon, is gone when it ends)?
fn changes_state(argv: &[String]) -> bool {
    let has = |w: &str| argv.iter().any(|a| a == w);
    let (cmd, rest) = match argv.split_first() {
        Some((c, r)) if c == "jexec" => match r.get(1..).and_then(|r| r.split_first()) {
            Some((c, r)) => (c.as_str(), r),
            None => return false,
        },
        Some((c, r)) => (c.as_str(), r),
        None => return false,
    };
    match cmd {
        "jail" => has("-c") || has("-m") || has("-r") || rest.iter().any(|a| a.starts_with("-c")),
        "ifconfig" => rest.len() > 1 && !rest[0].starts_with('-'),
        "route" => rest
            .first()
            .is_some_and(|c| matches!(c.as_str(), "add" | "delete" | "change" | "flush")),
        "sysctl" => rest.iter().any(|a| a.contains('=')),
        "arp" => has("-s") || has("-d"),
        "pipe" => rest.get(1).is_some_and(|c| c == "config" || c == "delete"),
        "hostname" => rest.iter().any(|a| !a.starts_with('-')),
        _ => false,
    }
}

/// `vimage daemon [-f] [stop]`.
#[cfg(unix)]
fn daemon_main(argv: &[String], socket: Option<std::path::PathBuf>, seed: u64) -> i32 {
    use vimage::daemon::{client, server, socket_path};

    /// keep the stacks alive under the real clock, serving every vimage COMMAND
    #[derive(Parser, Debug)]
    #[command(name = "vimage daemon")]
    struct DaemonArgs {
        /// Stay in the foreground (logging to standard error).
        #[arg(short, long)]
        foreground: bool,
        /// stop: stop the running daemon.
        #[arg(value_parser = ["stop"])]
        action: Option<String>,
    }
    let a = match DaemonArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let path = socket_path(socket);
    if a.action.is_some() {
        return client::stop(&path);
    }
    if a.foreground {
        return server::serve(&path, seed);
    }
    if client::connect(&path).is_some() {
        eprintln!("vimage: daemon: one already listens on {}", path.display());
        return 1;
    }
    // In the background: this program again, in its own process group
    // (a Ctrl-C at the terminal is not for it), logging beside the socket.
    let log = path.with_extension("log");
    let spawned = std::env::current_exe().and_then(|exe| {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::process::CommandExt;
        // A new file, ours alone (create_new never follows a symlink).
        let _ = std::fs::remove_file(&log);
        let logf = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&log)?;
        std::process::Command::new(exe)
            .arg("--socket")
            .arg(&path)
            .args(["--seed", &seed.to_string(), "daemon", "--foreground"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(logf)
            .process_group(0)
            .spawn()
    });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vimage: daemon: {e}");
            return 1;
        }
    };
    for _ in 0..200 {
        if client::connect(&path).is_some() {
            println!("vimage: daemon {} listening on {}", child.id(), path.display());
            return 0;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let why = std::fs::read_to_string(&log).unwrap_or_default();
    eprint!("{why}");
    eprintln!("vimage: daemon: did not start (log: {})", log.display());
    1
}

#[cfg(not(unix))]
fn daemon_main(_: &[String], _: Option<std::path::PathBuf>, _: u64) -> i32 {
    eprintln!("vimage: the daemon needs Unix sockets");
    2
}
