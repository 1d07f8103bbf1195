//! jail(8), jls(8) and jexec(8).

use clap::Parser;

use crate::kern::jail::{JailError, JailParams, JailSys, Jid};
use crate::kern::proc::Proc;
use crate::net::ifnet::IF;
use crate::netinet::in_::{InError, in_aifaddr};
use crate::{errln, outln};
use std::net::Ipv4Addr;

/// manage system jails (jail(8))
#[derive(Parser, Debug)]
#[command(name = "jail", disable_help_flag = true, disable_version_flag = true)]
pub struct JailArgs {
    /// Create a new jail.
    #[arg(short = 'c')]
    create: bool,
    /// Modify an existing jail.
    #[arg(short = 'm')]
    modify: bool,
    /// Remove the jail(s) named, with their children.
    #[arg(short = 'r')]
    remove: bool,
    /// Output (only) the jail identifier of the newly created jail.
    #[arg(short = 'i')]
    print_jid: bool,
    /// Suppress the message printed whenever a jail is created or removed.
    #[arg(short = 'q')]
    quiet: bool,
    /// Print a message on every operation.
    #[arg(short = 'v')]
    verbose: bool,
    /// param=value ... [command=command ...], or the jails to remove.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "param=value")]
    params: Vec<String>,
}

/// jail(8)'s parameters: the kernel's, the command (the words from
/// `command=` on) and the addresses to put on interfaces first.
#[derive(Debug, Default)]
struct Parsed {
    params: JailParams,
    command: Option<Vec<String>>,
    /// `ip4.addr=IF|A/P` or `interface=IF`: (IF, A, P).
    aliases: Vec<(String, u32, u8)>,
}

/// Parse jail(8) parameters.
fn parse_params(words: &[String]) -> Result<Parsed, String> {
    let mut p = JailParams::default();
    let mut ip4: Vec<(Option<String>, u32, u8)> = Vec::new();
    let mut interface = None;
    let mut command = None;
    for (i, w) in words.iter().enumerate() {
        if let Some(c) = w.strip_prefix("command=") {
            let mut cmd = vec![c.to_string()];
            cmd.extend(words[i + 1..].iter().cloned());
            command = Some(cmd);
            break;
        }
        let (key, val) = match w.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (w.as_str(), None),
        };
        let jailsys = |v: Option<&str>| match v.unwrap_or("new") {
            "new" | "" => Ok(JailSys::New),
            "inherit" => Ok(JailSys::Inherit),
            "disable" if key == "ip4" => Ok(JailSys::Disable),
            "disable" => Err(JailError::Invalid.to_string()),
            other => Err(format!("{key}: unknown jailsys value \"{other}\"")),
        };
        let int = |v: Option<&str>| -> Result<i64, String> {
            let v = v.unwrap_or("");
            v.parse().map_err(|_| format!("{key}: non-integer value \"{v}\""))
        };
        match key {
            "name" => p.name = Some(val.unwrap_or("").to_string()),
            "jid" => p.jid = Some(int(val)?.clamp(-1, i32::MAX as i64) as i32),
            "vnet" => p.vnet = Some(jailsys(val)?),
            "novnet" | "nohost" => return Err(JailError::Invalid.to_string()),
            "host" => p.host = Some(jailsys(val)?),
            "host.hostname" => p.hostname = Some(val.unwrap_or("").to_string()),
            "persist" | "nopersist" => {
                let b = match val {
                    None | Some("true" | "1" | "yes") => true,
                    Some("false" | "0" | "no") => false,
                    Some(o) => return Err(format!("{key}: unknown boolean value \"{o}\"")),
                };
                p.persist = Some(b == (key == "persist"));
            }
            "children.max" => p.children_max = Some(int(val)?.clamp(0, u32::MAX as i64) as u32),
            "ip4" => p.ip4 = Some(jailsys(val)?),
            "ip4.addr" => {
                ip4.clear();
                for a in val.unwrap_or("").split(',').filter(|a| !a.is_empty()) {
                    ip4.push(ip4_addr(a)?);
                }
                p.ip4_addr = Some(ip4.iter().map(|&(_, a, _)| a).collect());
            }
            "interface" => interface = val.map(str::to_string),
            _ => return Err(format!("unknown parameter: {key}")),
        }
    }
    let aliases = ip4
        .into_iter()
        .filter_map(|(ifname, a, plen)| Some((ifname.or_else(|| interface.clone())?, a, plen)))
        .collect();
    Ok(Parsed {
        params: p,
        command,
        aliases,
    })
}

/// One of `ip4.addr`'s addresses: `[IF|]A[/P]` (P as a length or a
/// dotted mask; /32 if none, as jail(8) adds it).
fn ip4_addr(s: &str) -> Result<(Option<String>, u32, u8), String> {
    let (ifname, rest) = match s.split_once('|') {
        Some((i, r)) => (Some(i.to_string()), r),
        None => (None, s),
    };
    let (addr, mask) = match rest.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (rest, None),
    };
    let a = crate::net::route::inet_addr(addr).ok_or_else(|| format!("ip4.addr: not an IPv4 address: {addr}"))?;
    let plen = match mask {
        None => 32,
        Some(m) => m
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= 32)
            .or_else(|| super::ifconfig::parse_mask(m))
            .ok_or_else(|| format!("ip4.addr: bad netmask: {m}"))?,
    };
    Ok((ifname, a, plen))
}

pub async fn jail(p: Proc, argv: Vec<String>) -> i32 {
    let a: JailArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    match (a.create, a.modify, a.remove) {
        (true, false, false) => create(p, &a).await,
        (false, true, false) => modify(&p, &a),
        (false, false, true) => remove(&p, &a),
        _ => {
            super::usage(&p, &<JailArgs as clap::CommandFactory>::command());
            1
        }
    }
}

async fn create(p: Proc, a: &JailArgs) -> i32 {
    let Parsed {
        params,
        command,
        aliases,
    } = match parse_params(&a.params) {
        Ok(x) => x,
        Err(e) => {
            errln!(p, "jail: {e}");
            return 1;
        }
    };
    let cred = p.jid;
    let r = p.kernel().jail_create(cred, &params, command.is_some());
    let jid = match r {
        Ok(j) => j,
        Err(JailError::NameExists(n)) => {
            errln!(p, "jail: \"{n}\" already exists");
            return 1;
        }
        Err(e) => {
            errln!(p, "jail: {e}");
            return 1;
        }
    };
    if !ip4_aliases(&p, jid, &aliases) {
        let _ = p.kernel().jail_remove(jid);
        return 1;
    }
    if a.print_jid {
        outln!(p, "{jid}");
    } else if a.verbose {
        outln!(p, "created");
    }
    match command {
        Some(cmd) => run_in(&p, jid, cmd).await,
        None => 0,
    }
}

/// Put the jail's addresses on their interfaces, as jail(8) runs
/// `ifconfig IF inet A netmask M alias` (one already there stays, and
/// stays after the jail).
fn ip4_aliases(p: &Proc, jid: Jid, aliases: &[(String, u32, u8)]) -> bool {
    for (ifname, addr, plen) in aliases {
        let r = p.vnet(|k, v| {
            let index = v.builtin(IF).by_name(ifname).map(|i| i.index).ok_or(None)?;
            match in_aifaddr(k, v, index, *addr, *plen, None, true) {
                Ok(()) => Ok(true),
                Err(InError::Exists) => Ok(false),
                Err(e) => Err(Some(e)),
            }
        });
        match r {
            Ok(Ok(true)) => p.kernel().prison_alias_added(jid, ifname, *addr),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                match e {
                    None => errln!(p, "ifconfig: interface {ifname} does not exist"),
                    Some(e) => errln!(p, "ifconfig: {e}"),
                }
                let mask = Ipv4Addr::from(crate::net::radix::mask(*plen));
                let name = p.kernel().prison_name(p.jid, jid);
                errln!(
                    p,
                    "jail: {name}: ifconfig {ifname} inet {} netmask {mask} alias: failed",
                    Ipv4Addr::from(*addr)
                );
                return false;
            }
            Err(e) => {
                errln!(p, "jail: {e}");
                return false;
            }
        }
    }
    true
}

/// Run `cmd` as a process attached to jail `jid` (jexec's core).
async fn run_in(p: &Proc, jid: Jid, cmd: Vec<String>) -> i32 {
    struct Attached(Proc);
    impl Drop for Attached {
        fn drop(&mut self) {
            // Also runs if the process is killed; a jail without persist
            // goes with its last process.
            let jid = self.0.jid;
            self.0.kernel().prison_detach(jid);
        }
    }
    p.kernel().prison_attach(jid);
    if let Some(me) = p.tasks().current() {
        p.tasks().set_jail(me, jid);
    }
    let guard = Attached(p.in_jail(jid));
    super::run(guard.0.clone(), cmd).await
}

fn modify(p: &Proc, a: &JailArgs) -> i32 {
    let params = match parse_params(&a.params) {
        Ok(x) => x.params,
        Err(e) => {
            errln!(p, "jail: {e}");
            return 1;
        }
    };
    let key = match (&params.name, params.jid) {
        (Some(n), _) => n.clone(),
        (None, Some(j)) => j.to_string(),
        (None, None) => {
            errln!(p, "jail: no jail specified");
            return 1;
        }
    };
    let mut k = p.kernel();
    let jid = match k.jail_getid(p.jid, &key) {
        Ok(j) => j,
        Err(_) => {
            errln!(p, "jail: \"{key}\" not found");
            return 1;
        }
    };
    let params = JailParams {
        name: None,
        jid: None,
        ..params
    };
    match k.jail_modify(jid, &params) {
        Ok(()) => {
            if a.verbose {
                outln!(p, "updated");
            }
            0
        }
        Err(e) => {
            errln!(p, "jail: {e}");
            1
        }
    }
}

fn remove(p: &Proc, a: &JailArgs) -> i32 {
    let wild = a.params.iter().any(|s| s == "*");
    let targets: Vec<String> = if wild {
        // Only the top level: removing a jail removes its children.
        let k = p.kernel();
        k.prison_list(p.jid)
            .into_iter()
            .filter(|&j| k.prison(j).is_some_and(|pr| pr.parent == p.jid))
            .map(|j| k.prison_name(p.jid, j))
            .collect()
    } else {
        a.params.clone()
    };
    if targets.is_empty() && !wild {
        super::usage(p, &<JailArgs as clap::CommandFactory>::command());
        return 1;
    }
    let note = !a.quiet && (wild || targets.len() > 1 || a.verbose);
    let mut status = 0;
    for t in &targets {
        let r = p.kernel().jail_getid(p.jid, t);
        let r = r.and_then(|j| {
            // Every process in the jail and below is killed first (outside
            // the kernel: their sockets close), then the jail goes.
            let mut doomed = p.kernel().prison_list(j);
            doomed.push(j);
            p.tasks().kill_jailed(&doomed);
            let mut k = p.kernel();
            match k.prison(j) {
                Some(_) => k.jail_remove(j),
                None => Ok(()), // it went with its last process
            }
        });
        match r {
            Ok(()) if note => outln!(p, "{t}: removed"),
            Ok(()) => {}
            Err(JailError::NotFound(_) | JailError::JidNotFound(_)) => {
                errln!(p, "jail: \"{t}\" not found");
                status = 1;
            }
            Err(e) => {
                errln!(p, "jail: {t}: {e}");
                status = 1;
            }
        }
    }
    status
}

/// list jails (jls(8))
#[derive(Parser, Debug)]
#[command(name = "jls", disable_help_flag = true, disable_version_flag = true)]
pub struct JlsArgs {
    /// Include dying jails (there are none: removal is immediate).
    #[arg(short = 'd')]
    dying: bool,
    /// Print parameters in columns with a header line.
    #[arg(short = 'h')]
    header: bool,
    /// Show the jail name instead of the JID in the default format.
    #[arg(short = 'N')]
    name: bool,
    /// Print parameters as name=value pairs.
    #[arg(short = 'n')]
    pairs: bool,
    /// Quote parameter values that contain spaces or quotes.
    #[arg(short = 'q')]
    quote: bool,
    /// Extended information on every jail.
    #[arg(short = 'v')]
    verbose: bool,
    /// The jid or name of the jail to list.
    #[arg(short = 'j', value_name = "jail")]
    jail: Option<String>,
    /// Parameters to print.
    #[arg(value_name = "param")]
    params: Vec<String>,
}

/// Every parameter jls knows, top-level names first, as jls sorts "all".
const JLS_PARAMS: &[&str] = &[
    "jid",
    "name",
    "parent",
    "path",
    "persist",
    "vnet",
    "children.cur",
    "children.max",
    "host",
    "host.hostname",
    "ip4",
    "ip4.addr",
];

/// A parameter's value; booleans as `None`/`Some` flags via [`param_bool`].
fn param(k: &crate::Kernel, cred: Jid, jid: Jid, name: &str) -> Option<String> {
    let pr = k.prison(jid)?;
    let sys = |s: JailSys| s.to_string();
    Some(match name {
        "jid" => jid.to_string(),
        "name" => k.prison_name(cred, jid),
        "parent" => if pr.parent == cred { 0 } else { pr.parent.0 }.to_string(),
        "path" => "/".into(),
        "persist" => pr.persist.to_string(),
        "vnet" => sys(pr.vnet_mode()),
        "children.cur" => k.prison_list(jid).len().to_string(),
        "children.max" => pr.children_max.to_string(),
        "host" => sys(pr.host_mode()),
        "host.hostname" => k.prison_hostname(jid),
        "ip4" => sys(pr.ip4_mode()),
        "ip4.addr" => pr
            .ip4_addrs()
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(","),
        "dying" => "false".into(),
        _ => return None,
    })
}

fn param_bool(name: &str) -> bool {
    matches!(name, "persist" | "dying")
}

pub async fn jls(p: Proc, argv: Vec<String>) -> i32 {
    let a: JlsArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let k = p.kernel();
    let cred = p.jid;
    let jails = match &a.jail {
        Some(key) => match k.jail_getid(cred, key) {
            Ok(j) if j != Jid::HOST => vec![j],
            Ok(_) => vec![],
            Err(e) => {
                errln!(p, "jls: {e}");
                return 1;
            }
        },
        None => k.prison_list(cred),
    };
    if let Some(bad) = a
        .params
        .iter()
        .find(|n| !JLS_PARAMS.contains(&n.as_str()) && *n != "dying")
    {
        errln!(p, "jls: unknown parameter: {bad}");
        return 1;
    }
    let params: Vec<&str> = if a.params.is_empty() && (a.pairs || a.header) {
        JLS_PARAMS.to_vec()
    } else {
        a.params.iter().map(String::as_str).collect()
    };
    if !params.is_empty() {
        let quote = |v: String| {
            if v.is_empty() {
                "\"\"".to_string()
            } else if a.quote && v.contains([' ', '"', '\'']) {
                format!("\"{}\"", v.replace('"', "\\\""))
            } else {
                v
            }
        };
        if a.header {
            outln!(p, "{}", params.join(" "));
        }
        for &j in &jails {
            let row: Vec<String> = params
                .iter()
                .map(|&n| {
                    let v = param(&k, cred, j, n).unwrap_or_default();
                    if a.pairs && param_bool(n) {
                        if v == "true" { n.to_string() } else { format!("no{n}") }
                    } else if a.pairs {
                        format!("{n}={}", quote(v))
                    } else if v.is_empty() {
                        if a.header { "-".into() } else { "".into() }
                    } else {
                        quote(v)
                    }
                })
                .collect();
            outln!(p, "{}", row.join(" "));
        }
        return 0;
    }
    if a.verbose {
        outln!(p, "   JID  Hostname                      Path");
        outln!(p, "        Name                          State");
        outln!(p, "        CPUSetID");
        outln!(p, "        IP Address(es)");
        for &j in &jails {
            let host = k.prison_hostname(j);
            outln!(p, "{:>6}  {:<29.29} {:.74}", j.0, host, "/");
            outln!(p, "        {:<29.29} {:.74}", k.prison_name(cred, j), "ACTIVE");
            // The root cpuset is 1; each jail gets its own after it.
            outln!(p, "        {}", j.0 + 1);
            for a in k.prison(j).map(|pr| pr.ip4_addrs()).unwrap_or_default() {
                outln!(p, "        {a}");
            }
        }
    } else {
        // The first address (the primary) in the IP column, as jls prints.
        let ip = |j: Jid| {
            k.prison(j)
                .and_then(|pr| pr.ip4_addrs().first().map(|a| a.to_string()))
                .unwrap_or_default()
        };
        if a.name {
            outln!(p, " JID             IP Address      Hostname                      Path");
        } else {
            outln!(p, "   JID  IP Address      Hostname                      Path");
        }
        for &j in &jails {
            let host = k.prison_hostname(j);
            let id = if a.name {
                format!(" {:<15} ", k.prison_name(cred, j))
            } else {
                format!("{:>6}  ", j.0)
            };
            outln!(p, "{id}{:<15.15} {:<29.29} {:.74}", ip(j), host, "/");
        }
    }
    0
}

/// execute a command inside an existing jail (jexec(8))
#[derive(Parser, Debug)]
#[command(name = "jexec", disable_help_flag = true, disable_version_flag = true)]
pub struct JexecArgs {
    /// Use a login environment (accepted, no effect).
    #[arg(short = 'l')]
    login: bool,
    /// The user to run as (accepted, no effect: there are no users).
    #[arg(short = 'u', value_name = "username")]
    user: Option<String>,
    /// The jail, by jid or name.
    jail: String,
    /// The command and its arguments (none: a shell, interactive at a
    /// terminal).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub async fn jexec(p: Proc, argv: Vec<String>) -> i32 {
    let a: JexecArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let jid = match p.kernel().jail_getid(p.jid, &a.jail) {
        Ok(j) => j,
        Err(e) => {
            errln!(p, "jexec: {e}");
            return 1;
        }
    };
    let cmd = if a.command.is_empty() {
        vec!["sh".to_string()]
    } else {
        a.command
    };
    run_in(&p, jid, cmd).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn params() {
        let Parsed {
            params: p, command: c, ..
        } = parse_params(&words("name=r1 vnet persist host.hostname=r1 children.max=4")).unwrap_or_default();
        assert_eq!(p.name.as_deref(), Some("r1"));
        assert_eq!(p.vnet, Some(JailSys::New));
        assert_eq!(p.persist, Some(true));
        assert_eq!(p.hostname.as_deref(), Some("r1"));
        assert_eq!(p.children_max, Some(4));
        assert!(c.is_none());
        let Parsed {
            params: p, command: c, ..
        } = parse_params(&words("name=x vnet=inherit nopersist command=sysctl -a")).unwrap_or_default();
        assert_eq!(p.vnet, Some(JailSys::Inherit));
        assert_eq!(p.persist, Some(false));
        assert_eq!(c, Some(words("sysctl -a")));
        assert_eq!(
            parse_params(&words("foo=1")).err().as_deref(),
            Some("unknown parameter: foo")
        );
        assert_eq!(
            parse_params(&words("children.max=x")).err().as_deref(),
            Some("children.max: non-integer value \"x\"")
        );
        assert_eq!(
            parse_params(&words("persist=maybe")).err().as_deref(),
            Some("persist: unknown boolean value \"maybe\"")
        );
        assert_eq!(
            parse_params(&words("vnet=disable")).err().as_deref(),
            Some("jail_set: Invalid argument")
        );
    }

    #[test]
    fn ip4_addr_takes_interfaces_and_masks() {
        let r = parse_params(&words(
            "interface=lo0 ip4.addr=10.0.0.5,epair0a|10.1.0.5/24,10.2.0.5/255.255.0.0",
        ))
        .unwrap_or_default();
        assert_eq!(r.params.ip4_addr, Some(vec![0x0a00_0005, 0x0a01_0005, 0x0a02_0005]));
        assert_eq!(
            r.aliases,
            vec![
                ("lo0".into(), 0x0a00_0005, 32),
                ("epair0a".into(), 0x0a01_0005, 24),
                ("lo0".into(), 0x0a02_0005, 16)
            ]
        );
        let r = parse_params(&words("ip4.addr=10.0.0.5 ip4=disable")).unwrap_or_default();
        assert!(r.aliases.is_empty());
        assert_eq!(r.params.ip4, Some(JailSys::Disable));
        assert_eq!(
            parse_params(&words("ip4.addr=10.0.0.256")).err().as_deref(),
            Some("ip4.addr: not an IPv4 address: 10.0.0.256")
        );
        assert_eq!(
            parse_params(&words("ip4.addr=10.0.0.1/33")).err().as_deref(),
            Some("ip4.addr: bad netmask: 33")
        );
    }
}
