//! `vimage shell` at a real terminal, driven through tmux as a person
//! would type: the real clock by default (the banner says so), Ctrl-C
//! stopping the foreground command and never the shell (under either
//! clock), tab completion, and history kept in a file.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux session, killed however the test ends.
struct Tmux(String);

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}

impl Tmux {
    /// Start `cmd` in a new detached session of 200x50.
    fn start(name: &str, cmd: &str) -> Option<Tmux> {
        if !common::ensure_tool("tmux", "tmux") {
            return None;
        }
        let name = format!("{name}-{}", std::process::id());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "200", "-y", "50", cmd])
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmux(name))
    }

    fn keys(&self, keys: &[&str]) {
        let mut c = Command::new("tmux");
        c.args(["send-keys", "-t", &self.0]).args(keys);
        let _ = c.status();
    }

    /// Type a line and press Enter.
    fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        Command::new("tmux")
            .args(["capture-pane", "-p", "-S", "-1000", "-t", &self.0])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Wait (30 s at most) until the screen shows `what`; the screen.
    #[track_caller]
    fn wait_for(&self, what: impl Fn(&str) -> bool, why: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if what(&s) {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{why}; the screen:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["has-session", "-t", &self.0])
            .status()
            .is_ok_and(|s| s.success())
    }
}

fn shell_cmd(hist: &std::path::Path, clock: &str) -> String {
    format!(
        "VIMAGE_HISTORY={} {} {clock} shell",
        hist.display(),
        env!("CARGO_BIN_EXE_vimage")
    )
}

#[test]
fn ctrl_c_stops_the_command_not_the_shell_under_the_real_clock() {
    let dir = common::tmpdir("tty-real");
    let hist = dir.join("history");
    let Some(t) = Tmux::start("vimage-real", &shell_cmd(&hist, "")) else {
        return;
    };
    t.wait_for(
        |s| s.contains("vimage shell (real clock)"),
        "the banner names the real clock",
    );
    t.wait_for(|s| s.contains("vimage#"), "a prompt");
    t.line("jail -c name=alpha vnet persist");
    t.line("jexec alpha ping 127.0.0.1");
    // Under the real clock a ping a second: the second reply takes a second.
    let before = Instant::now();
    t.wait_for(|s| s.contains("icmp_seq=1 "), "ping replies once a second");
    assert!(before.elapsed() >= Duration::from_millis(900), "real time passed");
    t.keys(&["C-c"]);
    t.wait_for(
        |s| s.contains("--- 127.0.0.1 ping statistics ---"),
        "^C makes ping print its statistics",
    );
    t.line("echo still here");
    t.wait_for(|s| s.lines().any(|l| l == "still here"), "the shell lives on");
    assert!(t.alive());
    // Tab completes command names and jail names.
    t.keys(&["-l", "jex"]);
    t.keys(&["Tab"]);
    t.keys(&["-l", "alp"]);
    t.keys(&["Tab"]);
    t.keys(&["-l", "hostname"]);
    t.keys(&["Enter"]);
    t.wait_for(|s| s.contains("vimage# jexec alpha hostname"), "tab completed the line");
    t.line("exit");
    let start = Instant::now();
    while t.alive() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!t.alive(), "exit leaves");
    let h = std::fs::read_to_string(&hist).unwrap_or_default();
    assert!(h.contains("jail -c name=alpha vnet persist"), "history is kept: {h}");
    assert!(h.contains("jexec alpha hostname"), "history is kept: {h}");
}

#[test]
fn ctrl_c_stops_the_command_not_the_shell_under_the_virtual_clock() {
    let dir = common::tmpdir("tty-virtual");
    let hist = dir.join("history");
    let Some(t) = Tmux::start("vimage-virt", &shell_cmd(&hist, "--clock virtual")) else {
        return;
    };
    t.wait_for(
        |s| s.contains("vimage shell (virtual clock"),
        "the banner names the virtual clock",
    );
    t.wait_for(|s| s.contains("vimage#"), "a prompt");
    t.line("jail -c name=a vnet persist");
    // Without -c, ping runs on in virtual time until ^C.
    t.line("jexec a ping -i 0.2 127.0.0.1");
    // (Virtual time runs free: seq 20 may have scrolled away already.)
    let seq = |l: &str| l.split("icmp_seq=").nth(1)?.split(' ').next()?.parse::<u32>().ok();
    t.wait_for(|s| s.lines().filter_map(seq).any(|n| n >= 20), "virtual time runs");
    t.keys(&["C-c"]);
    t.wait_for(
        |s| s.contains("--- 127.0.0.1 ping statistics ---"),
        "^C makes ping print its statistics",
    );
    t.line("echo alive");
    t.wait_for(|s| s.lines().any(|l| l == "alive"), "the shell lives on");
    // A server with nobody to serve can never go on in virtual time.
    t.line("jexec a nc -l 80");
    t.wait_for(
        |s| s.contains("vimage: jexec a nc -l 80: would wait forever"),
        "nc stalls",
    );
    // A program reading the terminal (a host one here) waits for the
    // person; ^C stops it and the shell goes on.
    t.line("cat");
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["C-c"]);
    t.line("echo after cat $?");
    t.wait_for(|s| s.lines().any(|l| l == "after cat 130"), "cat was interrupted");
    t.line("exit");
}

/// Lines typed while a command runs are each run after it, in order, as
/// a terminal's typeahead is (none lost with the first).
#[test]
fn lines_typed_ahead_during_a_command_all_run() {
    let dir = common::tmpdir("tty-ahead");
    let hist = dir.join("history");
    let Some(t) = Tmux::start("vimage-ahead", &shell_cmd(&hist, "")) else {
        return;
    };
    t.wait_for(|s| s.contains("vimage#"), "a prompt");
    t.line("sleep 2");
    std::thread::sleep(Duration::from_millis(300));
    for w in ["one", "two", "three"] {
        t.line(&format!("echo typed-{w}"));
    }
    let s = t.wait_for(
        |s| s.lines().any(|l| l == "typed-three"),
        "the third line typed ahead runs",
    );
    let at = |w: &str| s.lines().position(|l| l == w);
    assert!(
        at("typed-one") < at("typed-two") && at("typed-two") < at("typed-three"),
        "in order:\n{s}"
    );
}
