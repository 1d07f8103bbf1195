//! The default demo: what `vimage` with no arguments shows.
//!
//! A script of ordinary commands, printed as a terminal session would show
//! them. Lines starting with `!` are expected to fail (and are shown to).

use crate::host::Host;
use crate::kern::proc::Out;
use crate::userland::shell::Shell;

/// The demo script.
pub const SCRIPT: &str = r#"
# Jails with their own network stacks (vnets), in a hierarchy.
jail -c name=lab children.max=8 persist host.hostname=lab.example
jail -c name=lab.r1 vnet persist host.hostname=r1
jail -c name=lab.r2 vnet persist host.hostname=r2
jail -c name=lab.h1 persist host.hostname=h1
jls
jls -v -j lab.r1
jls -n -j lab.h1
# Each vnet has its own copy of every per-vnet sysctl.
jexec lab.r1 sysctl net.inet.ip.forwarding=1
jexec lab.r2 sysctl net.inet.ip.ttl=32
jexec lab.r1 sysctl net.inet.ip
jexec lab.r2 sysctl net.inet.ip
sysctl net.inet.ip
jexec lab.r1 hostname
jexec lab.r1 sysctl security.jail.jailed security.jail.vnet kern.hostname
# A jail without a vnet of its own (h1 shares the host's) may not change it.
! jexec lab.h1 sysctl net.inet.ip.forwarding=1
! jexec lab.r1 sysctl kern.hostname=evil
sysctl -d net.inet.ip.forwarding
sysctl kern.vimage.vnets
# Removing a jail removes its children and destroys the vnets they own.
jail -r lab
jls
sysctl kern.vimage.vnets
"#;

/// Run the demo on `host`, writing the session to `out`; the status is
/// non-zero if any line did not do what it should.
pub fn run(host: &Host, out: &Out) -> i32 {
    let mut bad = 0;
    for line in SCRIPT.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            out.write_fmt(format_args!("\n{line}\n"));
            continue;
        }
        let (expect_fail, cmd) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        out.write_fmt(format_args!("vimage# {cmd}\n"));
        let mut sh = Shell::new(host, out.clone(), out.clone());
        sh.run_line(cmd);
        if (sh.status() != 0) != expect_fail {
            out.write_fmt(format_args!("demo: unexpected result from: {cmd}\n"));
            bad += 1;
        }
    }
    (bad > 0) as i32
}
