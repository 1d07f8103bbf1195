//! sysctl(8): get or set kernel state.

use clap::Parser;

use crate::kern::proc::Proc;
use crate::kern::sysctl::SysctlError;
use crate::{errln, outln};

/// get or set kernel state (sysctl(8))
#[derive(Parser, Debug)]
#[command(name = "sysctl", disable_help_flag = true, disable_version_flag = true)]
pub struct SysctlArgs {
    /// List all the currently available non-opaque values.
    #[arg(short = 'a')]
    all: bool,
    /// Print the description of the variable instead of its value.
    #[arg(short = 'd')]
    descr: bool,
    /// Separate the name and the value of the variable with `='.
    #[arg(short = 'e')]
    equals: bool,
    /// Ignore unknown OIDs.
    #[arg(short = 'i')]
    ignore: bool,
    /// Show only variable names, not their values.
    #[arg(short = 'N')]
    names_only: bool,
    /// Do not show variable names.
    #[arg(short = 'n')]
    no_names: bool,
    /// Show opaque variables (statistics structures) too, when walking.
    #[arg(short = 'o')]
    opaque: bool,
    /// As -o (the values are shown by field, not as hex).
    #[arg(short = 'x')]
    hex: bool,
    /// Suppress some warnings.
    #[arg(short = 'q')]
    quiet: bool,
    /// Print the type of the variable.
    #[arg(short = 't')]
    types: bool,
    /// name[=value] ...
    #[arg(value_name = "name[=value]")]
    args: Vec<String>,
}

pub async fn sysctl(p: Proc, argv: Vec<String>) -> i32 {
    let a: SysctlArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    if (a.args.is_empty() && !a.all) || (a.names_only && a.no_names) {
        super::usage(&p, &<SysctlArgs as clap::CommandFactory>::command());
        return 1;
    }
    let mut fails = 0;
    if a.all {
        fails += show_tree(&p, &a, "");
    }
    for arg in &a.args {
        fails += match arg.split_once(['=', ':']) {
            Some((name, value)) => set(&p, &a, arg, name.trim(), unquote(value.trim())),
            None => show_tree(&p, &a, arg.trim()),
        };
    }
    fails.min(255)
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// Show the leaf `prefix`, or every leaf under it.
fn show_tree(p: &Proc, a: &SysctlArgs, prefix: &str) -> i32 {
    let names = match p.with(|k| k.sysctl_names(prefix)) {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => return warn(p, a, &e),
        Err(e) => {
            errln!(p, "sysctl: {e}");
            return 1;
        }
    };
    // A walk skips opaque nodes unless -o (or -x) asks for them, as
    // show_var does; a node named by itself is shown.
    let walking = names.len() != 1 || names[0] != prefix;
    let skip = |n: &String| {
        walking
            && !(a.opaque || a.hex || a.names_only)
            && p.with(|k| {
                k.sysctl_oid(n)
                    .is_ok_and(|o| o.ctype == crate::kern::sysctl::Ctype::Struct)
            })
            .unwrap_or(false)
    };
    names.iter().filter(|n| !skip(n)).map(|n| show(p, a, n)).sum()
}

fn warn(p: &Proc, a: &SysctlArgs, e: &SysctlError) -> i32 {
    match e {
        SysctlError::UnknownOid(_) if a.ignore => 0,
        SysctlError::UnknownOid(_) if a.quiet => 1,
        _ => {
            errln!(p, "sysctl: {e}");
            1
        }
    }
}

fn label(a: &SysctlArgs, name: &str) -> String {
    match (a.no_names, a.equals) {
        (true, _) => String::new(),
        (false, true) => format!("{name}="),
        (false, false) => format!("{name}: "),
    }
}

fn show(p: &Proc, a: &SysctlArgs, name: &str) -> i32 {
    if a.names_only {
        outln!(p, "{name}");
        return 0;
    }
    let r = p.with(|k| {
        let oid = k.sysctl_oid(name)?;
        if a.descr || a.types {
            let mut s = String::new();
            if a.types {
                s.push_str(oid.ctype.name());
            }
            if a.descr {
                if a.types {
                    s.push_str(": ");
                }
                s.push_str(&oid.descr);
            }
            return Ok(s);
        }
        let cred = p.jid;
        k.sysctl_read(cred, name).map(|v| v.to_string())
    });
    match r {
        Ok(Ok(v)) => {
            outln!(p, "{}{v}", label(a, name));
            0
        }
        Ok(Err(e)) => warn(p, a, &e),
        Err(e) => {
            errln!(p, "sysctl: {e}");
            1
        }
    }
}

fn set(p: &Proc, a: &SysctlArgs, arg: &str, name: &str, value: &str) -> i32 {
    let cred = p.jid;
    let r = p.with(|k| {
        let res = k.sysctl_write(cred, name, value);
        // On a refusal from the kernel sysctl(8) has shown the old value.
        let old = match &res {
            Err(SysctlError::Range | SysctlError::Perm | SysctlError::NoEnt) => k.sysctl_read(cred, name).ok(),
            _ => None,
        };
        (res, old)
    });
    match r {
        Ok((Ok((old, new)), _)) => {
            outln!(p, "{}{old} -> {new}", label(a, name));
            0
        }
        Ok((Err(e @ (SysctlError::Range | SysctlError::Perm | SysctlError::NoEnt)), old)) => {
            if let Some(old) = old {
                outln!(p, "{}{old}", label(a, name));
            }
            errln!(p, "sysctl: {arg}: {e}");
            1
        }
        Ok((Err(e), _)) => warn(p, a, &e),
        Err(e) => {
            errln!(p, "sysctl: {e}");
            1
        }
    }
}
