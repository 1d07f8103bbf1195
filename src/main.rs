//! The `vimage` command: the demo, the shell, benchmarks, or any userland
//! command run once on a fresh host.

use std::process::ExitCode;

use clap::Parser;
use vimage::userland::{bench, demo, shell};
use vimage::{ClockKind, Config, Host, Out, Stdio};

#[global_allocator]
static ALLOC: vimage::alloc::CountingAlloc = vimage::alloc::CountingAlloc;

/// FreeBSD's VIMAGE network stack virtualization, in user space.
///
/// With no command: run the default lab.
#[derive(Parser, Debug)]
#[command(name = "vimage", version, after_help = AFTER_HELP)]
struct Cli {
    /// The clock: virtual (discrete-event, repeatable) or real.
    #[arg(long, default_value = "virtual")]
    clock: ClockKind,
    /// The seed of every random generator of the run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// demo | shell [SCRIPT] | bench vnets [N...] | any command (see help)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    command: Vec<String>,
}

const AFTER_HELP: &str = "Commands:
  (no command)         run the default lab (examples/labs/demo.toml)
  demo                 a scripted tour of the FreeBSD commands
  run LAB.toml         build a lab from its file and run its timeline (run --help)
  graph LAB.toml       draw a lab as SVG (or --dot)
  shell [SCRIPT]       the interactive shell, or run a script of commands
  bench vnets [N...]   vnets created/destroyed per second, bytes per vnet
  bench forward [P]    64-byte frames forwarded per second over a 10-vnet chain
  bench route [R]      route lookups per second in a table of R routes
  bench tcp [MB [N MTU]] TCP throughput: one epair at MTU 1500 and 65535, a 10-vnet chain
                       (or N vnets in a chain at MTU)
  help [COMMAND]       the userland commands (jail, jls, jexec, sysctl, ...)
  COMMAND [ARGS...]    run one userland command on a fresh host";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = Config {
        clock: cli.clock,
        seed: cli.seed,
        ..Config::default()
    };
    let out = Out::stdout();
    let args: Vec<&str> = cli.command.iter().map(String::as_str).collect();
    let status = match args.as_slice() {
        [] => vimage::lab::cli::default_main(),
        ["demo"] => demo::run(&Host::new(cfg), &out),
        ["run", ..] => vimage::lab::cli::run_main(&cli.command),
        ["graph", ..] => vimage::lab::cli::graph_main(&cli.command),
        ["shell"] => shell::main(&Host::new(cfg), None),
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
        ["bench", "forward"] => bench::forward(1_000_000, &out),
        ["bench", "forward", n] => match n.parse() {
            Ok(n) => bench::forward(n, &out),
            Err(e) => {
                eprintln!("vimage: bench: {e}");
                2
            }
        },
        ["bench", "tcp"] => bench::tcp(1024, &out),
        ["bench", "tcp", n] => match n.parse() {
            Ok(n) => bench::tcp(n, &out),
            Err(e) => {
                eprintln!("vimage: bench: {e}");
                2
            }
        },
        ["bench", "tcp", mb, vnets, mtu] => match (mb.parse::<usize>(), vnets.parse::<usize>(), mtu.parse::<u32>()) {
            (Ok(mb), Ok(n), Ok(mtu)) => match bench::tcp_throughput(n, mtu, mb << 20) {
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
        ["bench", "route"] => bench::route(100_000, &out),
        ["bench", "route", n] => match n.parse() {
            Ok(n) => bench::route(n, &out),
            Err(e) => {
                eprintln!("vimage: bench: {e}");
                2
            }
        },
        ["bench", ..] => {
            eprintln!("usage: vimage bench vnets [N...] | forward [PACKETS] | route [ROUTES] | tcp [MBYTES]");
            2
        }
        _ => {
            let host = Host::new(cfg);
            let t = host.spawn(cli.command.clone(), Stdio::inherit());
            match host.wait(t) {
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
