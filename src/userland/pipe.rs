//! `pipe`: link emulation on an interface's output, with the keywords of
//! ipfw(8)'s `pipe N config` (dummynet), applied to an interface:
//!
//! `pipe IF config [bw B] [delay D] [jitter J [uniform|normal]] [plr P]
//! [dup P] [ber P] [queue N | NKB]`, `pipe IF show`, `pipe IF delete`,
//! `pipe show`. A pipe shapes what the interface sends: configure both
//! ends of an epair for both directions.

use std::time::Duration;

use clap::Parser;

use crate::kern::clock::parse_duration;
use crate::kern::proc::Proc;
use crate::net::ifnet::{IF, Ifnet};
use crate::net::pipe::{Dist, Pipe, PipeConf, QueueLimit, parse_bw};
use crate::{errln, outln};

/// link emulation on an interface (dummynet pipe keywords)
#[derive(Parser, Debug)]
#[command(name = "pipe", disable_help_flag = true, disable_version_flag = true)]
pub struct PipeArgs {
    /// IF config [bw B] [delay D] [jitter J [uniform|normal]] [plr P] [dup P] [ber P] [queue N|NKB] | IF show | IF delete | show
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "interface command"
    )]
    args: Vec<String>,
}

/// Parse `config` keywords on top of `base`.
pub fn parse_conf(words: &[String], mut c: PipeConf) -> Result<PipeConf, String> {
    let mut it = words.iter().peekable();
    while let Some(w) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("'{w}' needs a value"));
        let prob = |s: String| -> Result<f64, String> {
            s.parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or(format!("invalid probability '{s}' (0 to 1)"))
        };
        match w.as_str() {
            "bw" | "bandwidth" => c.bw = parse_bw(&val()?)?,
            "delay" => c.delay = ms_or_duration(&val()?)?,
            "jitter" => {
                c.jitter = ms_or_duration(&val()?)?;
                match it.peek().map(|s| s.as_str()) {
                    Some("uniform") => {
                        it.next();
                        c.dist = Dist::Uniform;
                    }
                    Some("normal") => {
                        it.next();
                        c.dist = Dist::Normal;
                    }
                    _ => {}
                }
            }
            "plr" | "loss" => c.plr = prob(val()?)?,
            "dup" => c.dup = prob(val()?)?,
            "ber" => c.ber = prob(val()?)?,
            "queue" => {
                let q = val()?;
                c.queue = match q.strip_suffix("KB").or(q.strip_suffix("Kbytes")) {
                    Some(n) => QueueLimit::Bytes(n.parse::<u64>().map_err(|_| format!("invalid queue '{q}'"))? * 1024),
                    None => match q.strip_suffix('B') {
                        Some(n) => QueueLimit::Bytes(n.parse().map_err(|_| format!("invalid queue '{q}'"))?),
                        None => QueueLimit::Frames(
                            q.parse()
                                .ok()
                                .filter(|&n| n > 0)
                                .ok_or(format!("invalid queue '{q}'"))?,
                        ),
                    },
                };
            }
            other => return Err(format!("unrecognised option '{other}'")),
        }
    }
    Ok(c)
}

/// dummynet takes delays in milliseconds; units are allowed too.
fn ms_or_duration(s: &str) -> Result<Duration, String> {
    if s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let ms: f64 = s.parse().map_err(|_| format!("invalid delay '{s}'"))?;
        return parse_duration(&format!("{}us", (ms * 1000.0).round()));
    }
    parse_duration(s)
}

fn show(ifp: &Ifnet) -> Option<String> {
    let pp = ifp.pipe.as_ref()?;
    let s = pp.stats;
    Some(format!(
        "{}: {}\n\t{} frames {} bytes sent, {} lost, {} queue drops, {} bit-error drops, {} duplicated\n",
        ifp.name, pp.conf, s.sent, s.bytes, s.lost, s.queue_drops, s.ber_drops, s.duplicated
    ))
}

pub async fn pipe(p: Proc, argv: Vec<String>) -> i32 {
    let a: PipeArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let words = &a.args;
    let r = p.vnet(|_, v| -> Result<String, String> {
        match words.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["show"] | [] => Ok(v.builtin(IF).list.iter().filter_map(show).collect()),
            [name, cmd, rest @ ..] => {
                let ifp = v
                    .builtin(IF)
                    .list
                    .iter_mut()
                    .find(|i| i.name == *name)
                    .ok_or(format!("interface {name} does not exist"))?;
                match *cmd {
                    "config" => {
                        let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
                        let base = ifp.pipe.as_ref().map(|p| p.conf.clone()).unwrap_or_default();
                        let conf = parse_conf(&rest, base)?;
                        match &mut ifp.pipe {
                            // Takes effect for the next frame; the queue stays.
                            Some(pp) => pp.conf = conf,
                            None => ifp.pipe = Some(Box::new(Pipe::new(conf))),
                        }
                        Ok(String::new())
                    }
                    "show" => Ok(show(ifp).unwrap_or_default()),
                    "delete" => {
                        ifp.pipe.take().ok_or(format!("{name}: no pipe configured"))?;
                        Ok(String::new())
                    }
                    other => Err(format!("unknown command '{other}' (config, show, delete)")),
                }
            }
            _ => Err("usage: pipe IF config|show|delete [options] | pipe show".into()),
        }
    });
    match r {
        Ok(Ok(s)) => {
            p.stdout.write_bytes(s.as_bytes());
            0
        }
        Ok(Err(e)) | Err(e) => {
            errln!(p, "pipe: {e}");
            1
        }
    }
}

/// print the kernel message buffer (dmesg(8))
#[derive(Parser, Debug)]
#[command(name = "dmesg", disable_help_flag = true, disable_version_flag = true)]
pub struct DmesgArgs {}

pub async fn dmesg(p: Proc, argv: Vec<String>) -> i32 {
    if let Err(s) = super::parse::<DmesgArgs>(&p, &argv) {
        return s;
    }
    let lines: Vec<String> = p.kernel().dmesg().map(|(_, m)| m.clone()).collect();
    for l in lines {
        outln!(p, "{l}");
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_words() {
        let w: Vec<String> = "bw 10Mbit/s delay 20 jitter 5ms normal plr 0.01 queue 100KB"
            .split(' ')
            .map(String::from)
            .collect();
        let c = parse_conf(&w, PipeConf::default()).unwrap_or_default();
        assert_eq!(c.bw, 10_000_000);
        assert_eq!(c.delay, Duration::from_millis(20));
        assert_eq!(c.jitter, Duration::from_millis(5));
        assert_eq!(c.dist, Dist::Normal);
        assert_eq!(c.plr, 0.01);
        assert_eq!(c.queue, QueueLimit::Bytes(102400));
        assert_eq!(
            c.to_string(),
            "bw 10Mbit/s delay 20ms jitter 5ms normal plr 0.01 queue 100KB"
        );
        assert!(parse_conf(&["plr".into(), "2".into()], PipeConf::default()).is_err());
        assert!(parse_conf(&["warp".into()], PipeConf::default()).is_err());
        assert!(parse_conf(&["delay".into()], PipeConf::default()).is_err());
    }
}
