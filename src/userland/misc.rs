//! Small commands: sleep(1), echo(1), help.

use clap::Parser;

use crate::kern::clock::parse_duration;
use crate::kern::proc::Proc;
use crate::{errln, outln};

/// suspend execution for an interval of time (sleep(1))
#[derive(Parser, Debug)]
#[command(name = "sleep", disable_help_flag = true, disable_version_flag = true)]
pub struct SleepArgs {
    /// Seconds, or a number with a unit: 100ms, 2s, 1m.
    duration: String,
}

pub async fn sleep(p: Proc, argv: Vec<String>) -> i32 {
    let a: SleepArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    match parse_duration(&a.duration) {
        Ok(d) => {
            p.sleep(d).await;
            0
        }
        Err(e) => {
            errln!(p, "sleep: {e}");
            1
        }
    }
}

/// write arguments to the standard output (echo(1))
#[derive(Parser, Debug)]
#[command(name = "echo", disable_help_flag = true, disable_version_flag = true)]
pub struct EchoArgs {
    /// Do not print the trailing newline.
    #[arg(short = 'n')]
    no_newline: bool,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    words: Vec<String>,
}

pub async fn echo(p: Proc, argv: Vec<String>) -> i32 {
    let a: EchoArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let s = a.words.join(" ");
    if a.no_newline {
        p.stdout.write_bytes(s.as_bytes());
    } else {
        outln!(p, "{s}");
    }
    0
}

/// list the commands, or describe one
#[derive(Parser, Debug)]
#[command(name = "help", disable_help_flag = true, disable_version_flag = true)]
pub struct HelpArgs {
    /// The command to describe.
    command: Option<String>,
}

pub async fn help(p: Proc, argv: Vec<String>) -> i32 {
    let a: HelpArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    match a.command.as_deref() {
        None => {
            outln!(p, "Commands (help COMMAND for one):");
            for c in super::COMMANDS {
                let about = (c.help)().get_about().map(|s| s.to_string()).unwrap_or_default();
                outln!(p, "  {:<10} {about}", c.name);
            }
            for (name, about) in super::shell::BUILTINS {
                outln!(p, "  {name:<10} {about}");
            }
            0
        }
        Some(name) => match super::lookup(name) {
            Some(c) => {
                let mut cmd = (c.help)();
                outln!(p, "{}", cmd.render_long_help().to_string().trim_end());
                0
            }
            None if super::shell::BUILTINS.iter().any(|(n, _)| *n == name) => {
                let about = super::shell::BUILTINS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or("", |b| b.1);
                outln!(p, "{name}: {about} (a shell builtin)");
                0
            }
            None => {
                errln!(p, "help: no such command: {name}");
                1
            }
        },
    }
}
