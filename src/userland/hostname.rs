//! hostname(1): print or set the name of the current host (in a jail, the
//! jail's `host.hostname`).

use clap::Parser;

use crate::kern::proc::Proc;
use crate::{errln, outln};

/// set or print name of current host system (hostname(1))
#[derive(Parser, Debug)]
#[command(name = "hostname", disable_help_flag = true, disable_version_flag = true)]
pub struct HostnameArgs {
    /// Include domain information (always the case; accepted for compatibility).
    #[arg(short = 'f')]
    full: bool,
    /// Trim off any domain information.
    #[arg(short = 's', conflicts_with = "domain")]
    short: bool,
    /// Only print domain information.
    #[arg(short = 'd')]
    domain: bool,
    /// Set the hostname to this name.
    #[arg(value_name = "name-of-host")]
    name: Option<String>,
}

pub async fn hostname(p: Proc, argv: Vec<String>) -> i32 {
    let a: HostnameArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let mut k = p.kernel();
    if let Some(n) = &a.name {
        if let Err(e) = k.prison_set_hostname(p.jid, n) {
            errln!(p, "hostname: sethostname: {e}");
            return 1;
        }
        return 0;
    }
    let h = k.prison_hostname(p.jid);
    let shown = match (a.short, a.domain) {
        (true, _) => h.split('.').next().unwrap_or(""),
        (_, true) => h.split_once('.').map_or(h.as_str(), |(_, d)| d),
        _ => &h,
    };
    outln!(p, "{shown}");
    0
}
